#include "s3/client.h"

#include <ctime>

#include "auth/sigv4.h"
#include "httpc/client.h"

namespace sesame::s3 {
namespace {

std::string AmzDate() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// The <Code> and <Message> of an S3 error body, for the error's text.
std::string ErrorText(const std::string& body) {
  auto element = [&](const std::string& name) {
    size_t b = body.find("<" + name + ">");
    size_t e = body.find("</" + name + ">");
    if (b == std::string::npos || e == std::string::npos || e < b)
      return std::string();
    b += name.size() + 2;
    return body.substr(b, std::min<size_t>(e - b, 300));
  };
  std::string code = element("Code"), message = element("Message");
  return code.empty() ? "" : code + (message.empty() ? "" : ": " + message);
}

}  // namespace

bool Client::ValidBucketName(const std::string& b) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (b.size() < 3 || b.size() > 63 || !alnum(b.front()) || !alnum(b.back()))
    return false;
  for (char c : b)
    if (!alnum(c) && c != '.' && c != '-') return false;
  return b.find("..") == std::string::npos;
}

Status Client::PutObject(const std::string& bucket, const std::string& key,
                         const std::string& body,
                         const std::string& content_type) {
  if (!ValidBucketName(bucket))
    return Error::Permanent("s3", "invalid bucket name " + bucket);
  auto url = httpc::ParseUrl(options_.endpoint);
  if (!url.ok()) return url.error();
  std::string base = url->target == "/" ? "" : url->target;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string path = base + "/" + bucket + "/" + auth::UriEncode(key, true);
  bool default_port = url->port == (url->tls ? 443 : 80);
  std::string host =
      url->host + (default_port ? "" : ":" + std::to_string(url->port));
  std::string payload_hash = auth::Sha256Hex(body);
  auth::SignedRequest sr;
  sr.method = "PUT";
  sr.raw_path = path;
  sr.headers = {{"host", host},
                {"x-amz-date", AmzDate()},
                {"x-amz-content-sha256", payload_hash},
                {"content-type", content_type}};
  sr.body = body;
  std::string authz =
      auth::AuthorizationFor(sr, payload_hash, options_.access_key_id,
                             options_.secret_access_key, options_.region, "s3");
  httpc::Request req;
  req.method = "PUT";
  std::string scheme = url->tls ? "https://" : "http://";
  std::string authority =
      url->host.find(':') != std::string::npos
          ? "[" + url->host + "]:" + std::to_string(url->port)
          : url->host + ":" + std::to_string(url->port);
  req.url = scheme + authority + path;
  for (size_t i = 1; i < sr.headers.size(); ++i)
    req.headers.push_back(sr.headers[i]);
  req.headers.emplace_back("Authorization", authz);
  req.body = body;
  req.timeout_ms = options_.timeout_ms;
  req.ca_file = options_.ca_file;
  auto resp = httpc::Fetch(req);
  if (!resp.ok()) return resp.error();
  if (resp->status >= 200 && resp->status < 300) return Ok{};
  std::string why = "S3 PutObject " + bucket + "/" + key + ": HTTP " +
                    std::to_string(resp->status) + " " + ErrorText(resp->body);
  if (resp->status >= 500 || resp->status == 429)
    return Error::Transient("s3", why);
  return Error::Permanent("s3", why);
}

}  // namespace sesame::s3
