#include "api/form.h"

#include "auth/sigv4.h"

namespace sesame::api {

// application/x-www-form-urlencoded: '+' is a space here (unlike SigV4
// queries).
std::map<std::string, std::string> ParseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= body.size()) {
    size_t amp = body.find('&', start);
    std::string_view pair = body.substr(start, amp == std::string_view::npos
                                                   ? std::string_view::npos
                                                   : amp - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string k(pair.substr(0, eq)),
          v(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
      for (char& c : k) c = c == '+' ? ' ' : c;
      for (char& c : v) c = c == '+' ? ' ' : c;
      out[auth::PercentDecode(k)] = auth::PercentDecode(v);
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

std::vector<std::string> Members(const std::map<std::string, std::string>& form,
                                 const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 1;; ++i) {
    auto it = form.find(prefix + ".member." + std::to_string(i));
    if (it == form.end()) break;
    out.push_back(it->second);
  }
  return out;
}

}  // namespace sesame::api
