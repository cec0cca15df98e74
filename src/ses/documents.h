#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "store/store.h"

namespace sesame::ses {

// Helpers shared by the SES resource classes for the JSON documents they keep
// in the state store. Stateless; thread-safe.

// The string member `key` of `o`; "" when absent or not a string.
std::string JsonString(const boost::json::object& o, const char* key);

// A stored document as a JSON object; an empty object when it is not one.
// Documents are Sesame's own, but a corrupt one must read as missing
// fields, never as an exception on a send path (admission runs on the
// network loops).
boost::json::object DocumentObject(const std::string& text);

// One page of a listing: the items after a cursor, and the cursor for the
// next page ("" at the end). The cursor is the last name listed; the API
// wraps it in an opaque NextToken.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next;
};

// Up to `limit` documents of `kind` named after `after`, in name order.
Result<Page<std::pair<std::string, std::string>>> ListDocuments(
    store::Store* store, const std::string& kind, const std::string& after,
    size_t limit);

// The names of every document of `kind`, up to SES's account limit of 10,000
// (empty when the store fails).
std::vector<std::string> DocumentNames(store::Store* store,
                                       const std::string& kind);

// Maps `fn` over a page of documents, keeping its cursor.
template <typename T, typename Fn>
Page<T> MapPage(Page<std::pair<std::string, std::string>>&& docs, Fn fn) {
  Page<T> out;
  out.next = std::move(docs.next);
  out.items.reserve(docs.items.size());
  for (auto& [name, body] : docs.items) out.items.push_back(fn(name, body));
  return out;
}

// One page of `kind` with each document turned into a T by `fn(name, body)`.
template <typename T, typename Fn>
Result<Page<T>> ListPage(store::Store* store, const std::string& kind,
                         const std::string& after, size_t limit, Fn fn) {
  auto docs = ListDocuments(store, kind, after, limit);
  if (!docs.ok()) return docs.error();
  return MapPage<T>(std::move(*docs), fn);
}
// One page of the names of `kind`.
Result<Page<std::string>> ListNames(store::Store* store,
                                    const std::string& kind,
                                    const std::string& after, size_t limit);

// Errors the resource classes return, by code: "not_found", "exists",
// "invalid", "limit" (and the store's own, transient).
Error NotFound(std::string message);
Error Exists(std::string message);
Error Invalid(std::string message);

}  // namespace sesame::ses
