#pragma once

// The SES v2 resource operations' route table and the helpers their group
// files share (internal to src/api). Each group file —
// v2_identities.cc, v2_configuration_sets.cc, v2_templates.cc,
// v2_suppression.cc, v2_account.cc — adds its rows; adding an operation is
// one row and one function there. The handlers translate between SES's JSON
// and the typed ses:: classes; they run on the API's store thread.

#include <boost/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "api/common.h"
#include "api/router.h"
#include "ses/resources.h"

namespace sesame::api {

// One resource request on its way to its operation.
struct ResourceCall {
  ses::Resources& resources;
  const HttpRequest& req;
  const std::vector<std::string>& params;  // the pattern's {name} segments
};
using ResourceHandler = HttpResponse (*)(ResourceCall&);
using ResourceRouter = Router<ResourceHandler>;

void AddAccountRoutes(ResourceRouter& r);
void AddIdentityRoutes(ResourceRouter& r);
void AddConfigurationSetRoutes(ResourceRouter& r);
void AddTemplateRoutes(ResourceRouter& r);
void AddSuppressionRoutes(ResourceRouter& r);
void AddVerificationTemplateRoutes(ResourceRouter& r);

// An ses:: error as SES reports it: not_found 404 NotFoundException, exists
// 400 AlreadyExistsException, invalid 400 BadRequestException, limit 400
// LimitExceededException, anything else (the store failing) 500.
HttpResponse Fail(const Error& e);
inline HttpResponse Fail(const ApiError& e) { return V2Error(e); }
// "{}" for a done write, else its error.
HttpResponse Done(const Status& s);
HttpResponse Reply(const boost::json::object& body);

// The request body as a JSON object ("{}" when empty), or the 400 to send.
std::variant<boost::json::object, HttpResponse> BodyObject(
    const HttpRequest& req);

// The first value of a query parameter, percent-decoded ("" if absent), and
// every value of a repeated one.
std::string QueryParam(const std::string& query, const std::string& key);
std::vector<std::string> QueryParams(const std::string& query,
                                     const std::string& key);

// A listing's PageSize (1 to `max`, absent: `fallback`; SES's ranges differ
// per listing) and NextToken (the last name seen, base64 so clients treat
// it as opaque), or the 400 to send.
struct PageRequest {
  std::string after;
  size_t size = 100;
};
std::variant<PageRequest, HttpResponse> ParsePage(const HttpRequest& req,
                                                  size_t max = 1000,
                                                  size_t fallback = 100);
// Sets NextToken when another page follows.
void SetNextToken(boost::json::object& out, const std::string& next);

// A listing's reply: {key: [fn(item)…], NextToken when more follow}.
template <typename T, typename Fn>
HttpResponse ListReply(const Result<ses::Page<T>>& page, const char* key,
                       Fn fn) {
  if (!page.ok()) return Fail(page.error());
  boost::json::array items;
  for (const auto& x : page->items) items.push_back(fn(x));
  boost::json::object out{{key, std::move(items)}};
  SetNextToken(out, page->next);
  return Reply(out);
}
inline boost::json::value Name(const std::string& name) {
  return boost::json::string(name);
}

// A request's Tags ([{Key, Value}…]: 1-50 of them, keys of 1-128 and values
// of at most 256 characters, as SES's TagResource allows), or the 400.
using TagList = std::vector<std::pair<std::string, std::string>>;
std::variant<TagList, HttpResponse> ParseTags(const boost::json::value& v);

// Route adapters: a handler that takes the parsed JSON body, or the parsed
// page of a listing; a malformed one is answered 400 before it runs.
template <HttpResponse (*F)(ResourceCall&, boost::json::object&)>
HttpResponse WithBody(ResourceCall& c) {
  auto body = BodyObject(c.req);
  if (auto* e = std::get_if<HttpResponse>(&body)) return std::move(*e);
  return F(c, std::get<boost::json::object>(body));
}
template <HttpResponse (*F)(ResourceCall&, const PageRequest&),
          size_t kMax = 1000, size_t kDefault = 100>
HttpResponse WithPage(ResourceCall& c) {
  auto page = ParsePage(c.req, kMax, kDefault);
  if (auto* e = std::get_if<HttpResponse>(&page)) return std::move(*e);
  return F(c, std::get<PageRequest>(page));
}

}  // namespace sesame::api
