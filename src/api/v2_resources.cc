#include "api/v2_resources.h"

#include "api/v2_resource_routes.h"
#include "auth/sigv4.h"
#include "base/base64.h"

namespace sesame::api {
namespace json = boost::json;

namespace {

const ResourceRouter& ResourceRoutes() {
  static const ResourceRouter routes = [] {
    ResourceRouter r;
    AddAccountRoutes(r);
    AddIdentityRoutes(r);
    AddConfigurationSetRoutes(r);
    AddTemplateRoutes(r);
    AddSuppressionRoutes(r);
    AddVerificationTemplateRoutes(r);
    return r;
  }();
  return routes;
}

// Calls `fn(name, value)` for each pair of a query string, percent-decoded.
template <typename Fn>
void ForEachQueryPair(const std::string& query, Fn fn) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    std::string pair = query.substr(
        start, amp == std::string::npos ? std::string::npos : amp - start);
    size_t eq = pair.find('=');
    if (!pair.empty()) {
      if (!fn(auth::PercentDecode(pair.substr(0, eq)),
              eq == std::string::npos
                  ? std::string()
                  : auth::PercentDecode(pair.substr(eq + 1))))
        return;
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
}

}  // namespace

std::optional<HttpResponse> HandleV2Resources(ses::Resources* resources,
                                              const HttpRequest& req) {
  auto match = ResourceRoutes().FindRest(req.method, PathSegments(req.path));
  if (!match) return std::nullopt;
  ResourceCall call{*resources, req, match->params};
  return match->route->handler(call);
}

std::vector<std::string> V2ResourceRows() { return ResourceRoutes().Rows(); }

std::vector<std::string> PathSegments(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string seg = path.substr(
        start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!seg.empty()) out.push_back(auth::PercentDecode(seg));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

HttpResponse Fail(const Error& e) {
  const std::string& c = e.code();
  if (c == "not_found")
    return V2Error({404, "NotFoundException", "NotFound", e.message()});
  if (c == "exists")
    return V2Error(
        {400, "AlreadyExistsException", "AlreadyExists", e.message()});
  if (c == "invalid" || c == "invalid_policy")
    return V2Error(BadRequest(e.message()));
  if (c == "limit")
    return V2Error(
        {400, "LimitExceededException", "LimitExceeded", e.message()});
  return V2Error(InternalError(e));
}

HttpResponse Done(const Status& s) {
  return s.ok() ? JsonOk("{}") : Fail(s.error());
}

HttpResponse Reply(const json::object& body) {
  return JsonOk(json::serialize(body));
}

std::variant<json::object, HttpResponse> BodyObject(const HttpRequest& req) {
  boost::system::error_code ec;
  json::value v =
      json::parse(req.body.empty() ? std::string("{}") : req.body, ec);
  if (ec || !v.is_object())
    return V2Error(BadRequest("Request body is not a valid JSON object"));
  return std::move(v.as_object());
}

std::string QueryParam(const std::string& query, const std::string& key) {
  std::string found;
  ForEachQueryPair(query, [&](const std::string& k, const std::string& v) {
    if (k != key) return true;
    found = v;
    return false;
  });
  return found;
}

std::vector<std::string> QueryParams(const std::string& query,
                                     const std::string& key) {
  std::vector<std::string> found;
  ForEachQueryPair(query, [&](const std::string& k, const std::string& v) {
    if (k == key) found.push_back(v);
    return true;
  });
  return found;
}

std::variant<PageRequest, HttpResponse> ParsePage(const HttpRequest& req,
                                                  size_t max, size_t fallback) {
  PageRequest page;
  page.size = fallback;
  std::string size = QueryParam(req.query, "PageSize");
  if (!size.empty()) page.size = std::strtoul(size.c_str(), nullptr, 10);
  if (page.size == 0 || page.size > max)
    return V2Error(
        BadRequest("PageSize must be between 1 and " + std::to_string(max)));
  std::string token = QueryParam(req.query, "NextToken");
  if (!token.empty()) {
    auto after = Base64Decode(token);
    if (!after)
      return V2Error({400, "InvalidNextTokenException", "InvalidNextToken",
                      "The NextToken is invalid"});
    page.after = *after;
  }
  return page;
}

std::variant<TagList, HttpResponse> ParseTags(const json::value& v) {
  if (!v.is_array() || v.as_array().empty() || v.as_array().size() > 50)
    return Fail(BadRequest("Tags must be a list of 1 to 50 tags."));
  TagList tags;
  for (const auto& x : v.as_array()) {
    auto* key = x.is_object() ? x.as_object().if_contains("Key") : nullptr;
    auto* value = x.is_object() ? x.as_object().if_contains("Value") : nullptr;
    if (!key || !key->is_string() || key->as_string().empty() ||
        key->as_string().size() > 128)
      return Fail(BadRequest("Each tag needs a Key of 1 to 128 characters."));
    if (value && (!value->is_string() || value->as_string().size() > 256))
      return Fail(BadRequest("A tag's Value is at most 256 characters."));
    tags.emplace_back(std::string(key->as_string()),
                      value ? std::string(value->as_string()) : "");
  }
  return tags;
}

void SetNextToken(json::object& out, const std::string& next) {
  if (!next.empty()) out["NextToken"] = Base64Encode(next);
}

}  // namespace sesame::api
