#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace sesame::smtp {

// The rules every message must meet before it is made durable, whatever way
// it entered (SMTP DATA, the SES APIs): lines end in CRLF, with no bare CR,
// bare LF or NUL anywhere (each could smuggle commands to the next hop or
// confuse a parser), every header line is a field or a continuation, and the
// fields RFC 5322 section 3.6 allows once appear at most once (a second From
// would slip past sending authorization). Pure; thread-safe.
//
// The error is permanent, code "content", and its message names the line
// and the problem, e.g. "line 3: bare CR" or "duplicate From header".
Status CheckMessage(std::string_view message);

// Turns every bare LF into CRLF (SES does this for Raw messages). Bare CRs
// are left for CheckMessage to refuse. A message that has no bare LF (what
// the builder and PrepareRaw produce) is returned as it came, uncopied.
std::string CanonicalLineEndings(std::string raw);

// True when the header block of `message` has field `name`
// (case-insensitive), even with an empty value.
bool HasHeader(std::string_view message, std::string_view name);

}  // namespace sesame::smtp
