#include "ses/account_settings.h"

#include <boost/json.hpp>

namespace sesame::ses {
namespace json = boost::json;
namespace {
constexpr char kKind[] = "account";
}  // namespace

bool IsSuppressionReason(const std::string& reason) {
  return reason == "BOUNCE" || reason == "COMPLAINT";
}

bool AccountSettings::SendingEnabled() {
  auto d = store_->Get(kKind, "sending");
  if (!d.ok() || !d->has_value()) return true;
  json::object doc = DocumentObject(**d);
  auto* en = doc.if_contains("SendingEnabled");
  return !en || !en->is_bool() || en->as_bool();
}

Status AccountSettings::SetSendingEnabled(bool enabled) {
  json::object o;
  o["SendingEnabled"] = enabled;
  return store_->Put(kKind, "sending", json::serialize(o), false);
}

bool AccountSettings::DedicatedIpAutoWarmupEnabled() {
  auto d = store_->Get(kKind, "dedicated-ip-warmup");
  if (!d.ok() || !d->has_value()) return false;
  auto* v = DocumentObject(**d).if_contains("AutoWarmupEnabled");
  return v && v->is_bool() && v->as_bool();
}

Status AccountSettings::SetDedicatedIpAutoWarmupEnabled(bool enabled) {
  json::object o{{"AutoWarmupEnabled", enabled}};
  return store_->Put(kKind, "dedicated-ip-warmup", json::serialize(o), false);
}

std::vector<std::string> AccountSettings::SuppressedReasons() {
  auto d = store_->Get(kKind, "suppression");
  if (!d.ok() || !d->has_value()) return {"BOUNCE", "COMPLAINT"};
  json::object o = DocumentObject(**d);
  auto* r = o.if_contains("SuppressedReasons");
  if (!r || !r->is_array()) return {"BOUNCE", "COMPLAINT"};
  std::vector<std::string> out;
  for (const auto& x : r->as_array()) {
    if (x.is_string() && IsSuppressionReason(std::string(x.as_string())))
      out.emplace_back(x.as_string());
  }
  return out;
}

Status AccountSettings::SetSuppressedReasons(
    const std::vector<std::string>& reasons) {
  json::array list;
  for (const auto& r : reasons) {
    if (!IsSuppressionReason(r))
      return Invalid("SuppressedReasons may hold BOUNCE and COMPLAINT");
    list.push_back(json::string(r));
  }
  json::object o;
  o["SuppressedReasons"] = std::move(list);
  return store_->Put(kKind, "suppression", json::serialize(o), false);
}

}  // namespace sesame::ses
