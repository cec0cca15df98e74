#include "ses/suppression_list.h"

#include <boost/json.hpp>

#include "base/ids.h"
#include "base/strings.h"

namespace sesame::ses {
namespace json = boost::json;
namespace {

constexpr char kKind[] = "suppressed";

SuppressedDestination FromDocument(const std::string&,
                                   const std::string& body) {
  json::object o = DocumentObject(body);
  SuppressedDestination d;
  d.address = JsonString(o, "EmailAddress");
  d.reason = JsonString(o, "Reason");
  if (auto* t = o.if_contains("LastUpdateTime"); t && t->is_int64())
    d.last_update = t->as_int64();
  if (auto* a = o.if_contains("Attributes"); a && a->is_object()) {
    d.message_id = JsonString(a->as_object(), "MessageId");
    d.feedback_id = JsonString(a->as_object(), "FeedbackId");
  }
  return d;
}

}  // namespace

Status SuppressionList::Put(const std::string& address,
                            const std::string& reason) {
  if (address.empty() || !IsSuppressionReason(reason))
    return Invalid(
        "EmailAddress and Reason (BOUNCE or COMPLAINT) are required");
  return Write({address, reason, NowMillis() / 1000, "", ""});
}

Result<SuppressedDestination> SuppressionList::Get(const std::string& address) {
  auto doc = store_->Get(kKind, AsciiLowerCopy(address));
  if (!doc.ok()) return doc.error();
  if (!doc->has_value())
    return NotFound("Email address <" + address +
                    "> does not exist on your suppression list.");
  return FromDocument(address, **doc);
}

Status SuppressionList::Delete(const std::string& address) {
  auto gone = store_->Delete(kKind, AsciiLowerCopy(address));
  if (!gone.ok()) return gone.error();
  if (!*gone)
    return NotFound("Email address <" + address +
                    "> does not exist on your suppression list.");
  return Ok{};
}

Result<Page<SuppressedDestination>> SuppressionList::List(
    const std::string& after, size_t limit) {
  return ListPage<SuppressedDestination>(store_, kKind, after, limit,
                                         FromDocument);
}

Result<Page<SuppressedDestination>> SuppressionList::Search(
    const std::string& query, const std::string& after, size_t limit) {
  std::string needle = AsciiLowerCopy(query);
  Page<SuppressedDestination> found;
  std::string cursor = after;
  // Stop at `limit` matches and hand back where the next page starts.
  while (found.items.size() < limit) {
    auto rows = store_->List(kKind, cursor, 1000);
    if (!rows.ok()) return rows.error();
    for (auto& [name, body] : *rows) {
      cursor = name;
      if (name.find(needle) == std::string::npos) continue;
      found.items.push_back(FromDocument(name, body));
      if (found.items.size() == limit) break;
    }
    if (rows->size() < 1000 && found.items.size() < limit) {
      cursor.clear();  // the end of the list
      break;
    }
  }
  found.next = cursor;
  return found;
}

bool SuppressionList::Contains(const std::string& address) {
  auto d = store_->Get(kKind, AsciiLowerCopy(address));
  return d.ok() && d->has_value();
}

std::set<std::string> SuppressionList::ReasonsFor(
    const std::string& config_set) {
  // A configuration set's SuppressionOptions override the account's.
  auto reasons = sets_->SuppressedReasons(config_set);
  if (!reasons) reasons = account_->SuppressedReasons();
  return std::set<std::string>(reasons->begin(), reasons->end());
}

bool SuppressionList::ContainsFor(const std::string& address,
                                  const std::string& config_set) {
  auto d = Get(address);
  // A shared store that is down is asked only about addresses its snapshot's
  // filter says may be listed (nearly all of them are): those are held back
  // as suppressed rather than mailed unchecked.
  if (!d.ok()) return d.error().code() == "store-unavailable";
  return ReasonsFor(config_set).count(d->reason) > 0;
}

Result<bool> SuppressionList::AddAutomatic(const std::string& address,
                                           const std::string& reason,
                                           const std::string& config_set,
                                           const std::string& message_id,
                                           const std::string& feedback_id) {
  if (!ReasonsFor(config_set).count(reason)) return false;
  auto existing = store_->Get(kKind, AsciiLowerCopy(address));
  bool fresh = existing.ok() && !existing->has_value();
  Status s =
      Write({address, reason, NowMillis() / 1000, message_id, feedback_id});
  if (!s.ok()) return s.error();
  return fresh;
}

Status SuppressionList::Write(const SuppressedDestination& d) {
  json::object o;
  o["EmailAddress"] = d.address;
  o["Reason"] = d.reason;
  o["LastUpdateTime"] = d.last_update;
  json::object attributes;
  if (!d.message_id.empty()) attributes["MessageId"] = d.message_id;
  if (!d.feedback_id.empty()) attributes["FeedbackId"] = d.feedback_id;
  if (!attributes.empty()) o["Attributes"] = std::move(attributes);
  return store_->Put(kKind, AsciiLowerCopy(d.address), json::serialize(o),
                     false);
}

}  // namespace sesame::ses
