// libFuzzer target for what an HTTP request's bytes go through before the
// API acts on them: the SigV4 Authorization header and canonical request,
// the Query API's form body, and Boost.JSON bodies read as the v2 API does.
// The input is split at the first two NULs: header, path?query, body.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/form.h"
#include "auth/sigv4.h"

using namespace sesame;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t a = in.find('\0');
  std::string_view header = in.substr(0, a);
  std::string_view rest = a == in.npos ? "" : in.substr(a + 1);
  size_t b = rest.find('\0');
  std::string_view target = rest.substr(0, b);
  std::string_view body = b == rest.npos ? "" : rest.substr(b + 1);

  auth::Authorization authz;
  std::string why;
  bool parsed = auth::ParseAuthorization(header, &authz, &why);
  size_t q = target.find('?');
  auth::SignedRequest r;
  r.method = "POST";
  r.raw_path = std::string(target.substr(0, q));
  r.raw_query = q == target.npos ? "" : std::string(target.substr(q + 1));
  r.headers = {{"Host", "127.0.0.1"},
               {"X-Amz-Date", "20261129T051200Z"},
               {"Authorization", std::string(header)}};
  r.body = body;
  (void)auth::CanonicalUri(r.raw_path);
  (void)auth::CanonicalQuery(r.raw_query);
  if (parsed) (void)auth::CanonicalRequest(r, authz.signed_headers, "x");
  (void)auth::Verify(
      r, [](const std::string&) { return std::optional<std::string>("k"); },
      1795929120, 900, "us-east-1");

  auto form = api::ParseForm(body);
  (void)api::Members(form, "Destination.ToAddresses");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (!ec && v.is_object()) (void)boost::json::serialize(v);
  return 0;
}
