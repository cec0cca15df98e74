#pragma once

#include <boost/json/value.hpp>
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

// The members of a Query structure "<prefix>.A.B", "<prefix>.L.member.N.C"
// as JSON: names become object members, ".member.N" lists become arrays
// (in N order; gaps close up; N above 1000 is ignored), every value stays
// a string. Null when no key has the prefix. Pure.
boost::json::value FormTree(const std::map<std::string, std::string>& form,
                            const std::string& prefix);

// JSON as a Query response's XML: an object's members become elements, an
// array's items <member> elements, booleans "true"/"false", strings escaped.
// Pure.
std::string QueryXml(const boost::json::value& v);

}  // namespace sesame::api
