#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sesame::api {

// Parses an application/x-www-form-urlencoded body (SES v1 Query requests):
// '+' is a space here, unlike in SigV4 query canonicalization. Later
// duplicates win. Pure.
std::map<std::string, std::string> ParseForm(std::string_view body);

// The values of a Query list "<prefix>.member.1", ".member.2", ... in order,
// stopping at the first gap.
std::vector<std::string> Members(const std::map<std::string, std::string>& form,
                                 const std::string& prefix);

}  // namespace sesame::api
