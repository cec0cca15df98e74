#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/http.h"
#include "ses/resources.h"

namespace sesame::api {

// The SES v2 REST resource operations (identities, configuration sets,
// templates, suppression, tags, dedicated IP pools, account settings) over
// ses::Resources. Returns nullopt when the path is not one of them. Called on
// whatever thread serves the request; thread-safe as Resources is.
std::optional<net::HttpResponse> HandleV2Resources(ses::Resources* resources,
                                                   const net::HttpRequest& req);

// The resource route table's rows ("METHOD /path/{param}").
std::vector<std::string> V2ResourceRows();

// Percent-decoded path segments of "/v2/email/a/b%40c" ->
// {"v2","email","a","b@c"}.
std::vector<std::string> PathSegments(const std::string& path);

}  // namespace sesame::api
