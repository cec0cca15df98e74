#pragma once

#include <string>
#include <vector>

namespace sesame::app {

// Prints one JSON object per file: kind (bounce, complaint, auto-reply,
// none) and per recipient its address, action, status, diagnostic code,
// bounceType/bounceSubType and reason. Returns the exit status.
int BounceParse(const std::vector<std::string>& files);

// Measures the analyzer against a labels.tsv (Sisimai's columns) whose
// sample paths are relative to `dir`; prints the figures as JSON, and every
// disagreement too when `verbose`.
int BounceEval(const std::string& dir, const std::string& labels_path,
               bool verbose);

// Sisimai's reason names in Sesame's ("userunknown" -> "user_unknown").
std::string MapSisimaiReason(const std::string& sisimai_reason);

}  // namespace sesame::app
