#include "ses/tags.h"

#include <boost/json.hpp>

namespace sesame::ses {
namespace json = boost::json;
namespace {
constexpr char kTagKind[] = "tags";
}  // namespace

Result<std::map<std::string, std::string>> Tags::Get(const std::string& arn) {
  auto doc = store_->Get(kTagKind, arn);
  if (!doc.ok()) return doc.error();
  std::map<std::string, std::string> out;
  if (!doc->has_value()) return out;
  for (const auto& [k, v] : DocumentObject(**doc))
    if (v.is_string()) out[std::string(k)] = std::string(v.as_string());
  return out;
}

Status Tags::Tag(const std::string& arn,
                 const std::vector<std::pair<std::string, std::string>>& tags) {
  auto current = Get(arn);
  if (!current.ok()) return current.error();
  for (const auto& [k, v] : tags) {
    if (k.empty()) return Invalid("Each tag needs a Key");
    (*current)[k] = v;
  }
  return Save(arn, *current);
}

Status Tags::Untag(const std::string& arn,
                   const std::vector<std::string>& keys) {
  auto current = Get(arn);
  if (!current.ok()) return current.error();
  for (const auto& k : keys) current->erase(k);
  return Save(arn, *current);
}

Status Tags::Save(const std::string& arn,
                  const std::map<std::string, std::string>& tags) {
  json::object o;
  for (const auto& [k, v] : tags) o[k] = v;
  return store_->Put(kTagKind, arn, json::serialize(o), false);
}

}  // namespace sesame::ses
