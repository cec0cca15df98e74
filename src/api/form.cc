#include "api/form.h"

#include <boost/json.hpp>

#include "auth/sigv4.h"
#include "base/strings.h"

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

namespace {

constexpr size_t kMaxMemberIndex = 1000;

void InsertMember(boost::json::value& node,
                  const std::vector<std::string_view>& parts, size_t i,
                  const std::string& value) {
  if (i == parts.size()) {
    node = boost::json::string(value);
    return;
  }
  bool list =
      parts[i] == "member" && i + 1 < parts.size() && !parts[i + 1].empty() &&
      parts[i + 1].size() <= 4 &&
      parts[i + 1].find_first_not_of("0123456789") == std::string_view::npos;
  if (list) {
    size_t n = std::stoul(std::string(parts[i + 1]));
    if (n == 0 || n > kMaxMemberIndex) return;
    if (!node.is_array()) node = boost::json::array();
    auto& a = node.as_array();
    if (a.size() < n) a.resize(n);
    InsertMember(a[n - 1], parts, i + 2, value);
    return;
  }
  if (!node.is_object()) node = boost::json::object();
  InsertMember(node.as_object()[parts[i]], parts, i + 1, value);
}

void DropGaps(boost::json::value& node) {
  if (node.is_object()) {
    for (auto& [k, v] : node.as_object()) DropGaps(v);
  } else if (node.is_array()) {
    auto& a = node.as_array();
    boost::json::array kept;
    for (auto& v : a)
      if (!v.is_null()) {
        DropGaps(v);
        kept.push_back(std::move(v));
      }
    a = std::move(kept);
  }
}

}  // namespace

boost::json::value FormTree(const std::map<std::string, std::string>& form,
                            const std::string& prefix) {
  boost::json::value root;
  std::string start = prefix + ".";
  for (auto it = form.lower_bound(start);
       it != form.end() && it->first.rfind(start, 0) == 0; ++it) {
    std::vector<std::string_view> parts;
    std::string_view rest(it->first);
    rest.remove_prefix(start.size());
    while (true) {
      size_t dot = rest.find('.');
      parts.push_back(rest.substr(0, dot));
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    InsertMember(root, parts, 0, it->second);
  }
  DropGaps(root);
  return root;
}

std::string QueryXml(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      std::string out;
      for (const auto& [k, x] : v.as_object())
        out += "<" + std::string(k) + ">" + QueryXml(x) + "</" +
               std::string(k) + ">";
      return out;
    }
    case boost::json::kind::array: {
      std::string out;
      for (const auto& x : v.as_array())
        out += "<member>" + QueryXml(x) + "</member>";
      return out;
    }
    case boost::json::kind::string:
      return XmlEscape(std::string(v.as_string()));
    case boost::json::kind::bool_:
      return v.as_bool() ? "true" : "false";
    case boost::json::kind::null:
      return "";
    default:
      return boost::json::serialize(v);
  }
}

}  // namespace sesame::api
