// libFuzzer target for the SES Handlebars subset: the template source and
// the data are both the caller's. Split at the first NUL: source, JSON data.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mime/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  auto t = sesame::mime::Template::Parse(in.substr(0, nul));
  if (!t.ok()) return 0;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(
      nul == in.npos ? std::string_view("{}") : in.substr(nul + 1), ec);
  if (ec) v = boost::json::object();
  (void)t->Render(v, true);
  (void)t->Render(v, false);
  return 0;
}
