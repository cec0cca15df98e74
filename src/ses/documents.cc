#include "ses/documents.h"

#include <boost/json.hpp>

namespace sesame::ses {
namespace json = boost::json;

std::string JsonString(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

json::object DocumentObject(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

Result<Page<std::pair<std::string, std::string>>> ListDocuments(
    store::Store* store, const std::string& kind, const std::string& after,
    size_t limit) {
  // One row more than asked tells whether another page follows.
  auto rows = store->List(kind, after, limit + 1);
  if (!rows.ok()) return rows.error();
  Page<std::pair<std::string, std::string>> page;
  if (rows->size() > limit) {
    rows->resize(limit);
    page.next = rows->back().first;
  }
  page.items = std::move(*rows);
  return page;
}

std::vector<std::string> DocumentNames(store::Store* store,
                                       const std::string& kind) {
  std::vector<std::string> out;
  auto rows = store->List(kind, "", 10000);
  if (rows.ok()) {
    for (auto& r : *rows) out.push_back(std::move(r.first));
  }
  return out;
}

Result<Page<std::string>> ListNames(store::Store* store,
                                    const std::string& kind,
                                    const std::string& after, size_t limit) {
  return ListPage<std::string>(
      store, kind, after, limit,
      [](const std::string& name, const std::string&) { return name; });
}

Error NotFound(std::string message) {
  return Error::Permanent("not_found", std::move(message));
}
Error Exists(std::string message) {
  return Error::Permanent("exists", std::move(message));
}
Error Invalid(std::string message) {
  return Error::Permanent("invalid", std::move(message));
}

}  // namespace sesame::ses
