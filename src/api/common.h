#pragma once

#include "base/strings.h"
// Helpers shared by the API's translation units (internal to src/api).

#include <string>
#include <string_view>

#include "base/ids.h"
#include "base/json.h"
#include "base/result.h"
#include "net/http.h"

namespace sesame::api {
using net::HttpRequest;
using net::HttpResponse;

inline constexpr char kXmlns[] = "http://ses.amazonaws.com/doc/2010-12-01/";
inline constexpr size_t kMaxRecipients = 50;

inline std::string NewRequestId() {
  std::string id = NewMessageId(NowMillis());  // a random UUID lives inside it
  return id.substr(17, 36);
}

using sesame::XmlEscape;  // base/strings.h

// A failed request, in neutral terms; each API flavour renders it.
struct ApiError {
  int status;
  std::string v2_name;
  std::string v1_code;
  std::string message;
};

inline ApiError BadRequest(const std::string& m) {
  return {400, "BadRequestException", "InvalidParameterValue", m};
}
// A failure no client input caused. Transient ones (the state store
// unreachable) answer 503 ServiceUnavailable, which every SDK retries with
// back-off; the rest 500 InternalFailure.
inline ApiError InternalError(const Error& e) {
  if (e.transient())
    return {503, "ServiceUnavailable", "ServiceUnavailable",
            "Service unavailable: " + e.message()};
  return {500, "InternalServiceErrorException", "InternalFailure", e.message()};
}
inline ApiError Rejected(const std::string& m) {
  return {400, "MessageRejected", "MessageRejected", m};
}

inline HttpResponse V2Error(const ApiError& e) {
  HttpResponse r;
  r.status = e.status;
  r.headers = {{"x-amzn-ErrorType", e.v2_name},
               {"x-amzn-RequestId", NewRequestId()}};
  r.body = "{\"message\":\"" + JsonEscape(e.message) + "\"}";
  return r;
}

inline constexpr char kIamXmlns[] = "https://iam.amazonaws.com/doc/2010-05-08/";

inline HttpResponse V1Error(const ApiError& e, const char* xmlns = kXmlns) {
  HttpResponse r;
  r.status = e.status;
  r.content_type = "text/xml";
  std::string rid = NewRequestId();
  r.headers = {{"x-amzn-RequestId", rid}};
  r.body = std::string("<ErrorResponse xmlns=\"") + xmlns +
           "\">\n  <Error>\n    <Type>" +
           (e.status >= 500 ? "Receiver" : "Sender") + "</Type>\n    <Code>" +
           e.v1_code + "</Code>\n    <Message>" + XmlEscape(e.message) +
           "</Message>\n  </Error>\n  <RequestId>" + rid +
           "</RequestId>\n</ErrorResponse>\n";
  return r;
}

inline HttpResponse V1Ok(const std::string& action,
                         const std::string& result_xml,
                         const char* xmlns = kXmlns) {
  HttpResponse r;
  r.content_type = "text/xml";
  std::string rid = NewRequestId();
  r.headers = {{"x-amzn-RequestId", rid}};
  r.body = "<" + action + "Response xmlns=\"" + xmlns + "\">\n  <" + action +
           "Result>" + result_xml + "</" + action +
           "Result>\n  <ResponseMetadata>\n    <RequestId>" + rid +
           "</RequestId>\n  </ResponseMetadata>\n</" + action + "Response>\n";
  return r;
}

inline HttpResponse JsonOk(const std::string& body) {
  HttpResponse r;
  r.headers = {{"x-amzn-RequestId", NewRequestId()}};
  r.body = body;
  return r;
}

}  // namespace sesame::api
