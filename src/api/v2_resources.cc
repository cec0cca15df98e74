#include "api/v2_resources.h"

#include <boost/json.hpp>
#include <map>

#include "api/common.h"
#include "auth/policy.h"
#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/strings.h"
#include "ses/names.h"
#include "smtp/address.h"

namespace sesame::api {
namespace json = boost::json;
using ses::CheckIdentityName;
using ses::CheckResourceName;
using ses::DkimKeys;
using ses::JsonString;
using ses::Resources;

namespace {

ApiError NotFound(const std::string& m) {
  return {404, "NotFoundException", "NotFound", m};
}
ApiError Exists(const std::string& m) {
  return {400, "AlreadyExistsException", "AlreadyExists", m};
}

std::optional<json::object> ParseObject(const std::string& body,
                                        ApiError* err) {
  boost::system::error_code ec;
  json::value v = json::parse(body.empty() ? std::string("{}") : body, ec);
  if (ec || !v.is_object()) {
    *err = BadRequest("Request body is not a valid JSON object");
    return std::nullopt;
  }
  return v.as_object();
}

// Query parameter (first value), percent-decoded.
std::string QueryParam(const std::string& query, const std::string& key) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    std::string pair = query.substr(
        start, amp == std::string::npos ? std::string::npos : amp - start);
    size_t eq = pair.find('=');
    if (auth::PercentDecode(pair.substr(0, eq)) == key) {
      return eq == std::string::npos ? ""
                                     : auth::PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return "";
}

// One page of a kind, honouring PageSize and NextToken (the last name seen,
// base64-encoded so clients treat it as opaque).
std::variant<
    std::pair<std::vector<std::pair<std::string, std::string>>, std::string>,
    ApiError>
Page(store::Store* store, const std::string& kind, const HttpRequest& req) {
  std::string size_s = QueryParam(req.query, "PageSize");
  size_t size =
      size_s.empty() ? 100 : std::strtoul(size_s.c_str(), nullptr, 10);
  if (size == 0 || size > 1000)
    return BadRequest("PageSize must be between 1 and 1000");
  std::string token = QueryParam(req.query, "NextToken"), after;
  if (!token.empty()) {
    auto d = Base64Decode(token);
    if (!d)
      return ApiError{400, "InvalidNextTokenException", "InvalidNextToken",
                      "The NextToken is invalid"};
    after = *d;
  }
  auto rows = store->List(kind, after, size + 1);
  if (!rows.ok())
    return ApiError{500, "InternalServiceErrorException", "InternalFailure",
                    rows.error().message()};
  std::string next;
  if (rows->size() > size) {
    rows->resize(size);
    next = Base64Encode(rows->back().first);
  }
  return std::make_pair(std::move(*rows), next);
}

json::object DkimAttributes(DkimKeys* dkim, const std::string& identity,
                            bool auto_verify) {
  json::object d;
  std::optional<DkimKeys::Info> info;
  if (dkim && identity.find('@') == std::string::npos)
    info = dkim->Find(identity);
  d["SigningAttributesOrigin"] = info ? info->origin : "AWS_SES";
  d["SigningEnabled"] = info && info->signing_enabled;
  d["Status"] = info ? (auto_verify ? "SUCCESS" : "PENDING") : "NOT_STARTED";
  json::array tokens;
  if (info) tokens.push_back(json::string(info->selector));
  if (info && !info->next_selector.empty())
    tokens.push_back(json::string(info->next_selector));
  d["Tokens"] = tokens;
  if (info) {
    d["NextSigningKeyLength"] = "RSA_2048_BIT";
    d["CurrentSigningKeyLength"] = "RSA_2048_BIT";
  }
  return d;
}

}  // namespace

std::vector<std::string> PathSegments(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string seg = path.substr(
        start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!seg.empty()) out.push_back(auth::PercentDecode(seg));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

std::optional<HttpResponse> HandleV2Resources(ses::Resources* resources,
                                              const HttpRequest& req) {
  store::Store* store_ = resources->store();
  ses::DkimKeys* dkim_ = resources->dkim();
  const bool auto_verify_ = resources->auto_verify();
  auto seg =
      PathSegments(req.path);  // v2 email <collection> [name] [sub] [subname]
  if (seg.size() < 3) return std::nullopt;
  const std::string& coll = seg[2];
  const std::string& m = req.method;
  ApiError err{400, "", "", ""};
  auto fail = [](const ApiError& e) {
    return std::optional<HttpResponse>(V2Error(e));
  };
  auto store_fail = [&](const Error& e) {
    if (e.code() == "exists") return fail(Exists(e.message()));
    if (e.code() == "invalid") return fail(BadRequest(e.message()));
    return fail(
        {500, "InternalServiceErrorException", "InternalFailure", e.message()});
  };

  // --- account -------------------------------------------------------------
  if (coll == "account" && seg.size() == 4 && m == "PUT" &&
      (seg[3] == "sending" || seg[3] == "suppression")) {
    auto o = ParseObject(req.body, &err);
    if (!o) return fail(err);
    if (seg[3] == "sending") {
      auto* en = o->if_contains("SendingEnabled");
      if (en && !en->is_bool())
        return fail(BadRequest("SendingEnabled must be a boolean"));
    } else {
      auto* r = o->if_contains("SuppressedReasons");
      if (!r || !r->is_array())
        return fail(BadRequest("SuppressedReasons must be a list"));
      for (const auto& x : r->as_array()) {
        if (!x.is_string() ||
            (x.as_string() != "BOUNCE" && x.as_string() != "COMPLAINT")) {
          return fail(
              BadRequest("SuppressedReasons may hold BOUNCE and COMPLAINT"));
        }
      }
    }
    Status s = store_->Put("account", seg[3], json::serialize(*o), false);
    if (!s.ok()) return store_fail(s.error());
    return JsonOk("{}");
  }

  // --- tags ----------------------------------------------------------------
  if (coll == "tags" && seg.size() == 3) {
    std::string arn = QueryParam(req.query, "ResourceArn");
    json::object tags;
    auto load = [&](const std::string& a) {
      auto d = store_->Get("tags", a);
      if (d.ok() && d->has_value()) tags = json::parse(**d).as_object();
    };
    if (m == "POST") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      arn = JsonString(*o, "ResourceArn");
      auto* t = o->if_contains("Tags");
      if (arn.empty() || !t || !t->is_array())
        return fail(BadRequest("ResourceArn and Tags are required"));
      load(arn);
      for (const auto& x : t->as_array()) {
        if (!x.is_object() || JsonString(x.as_object(), "Key").empty())
          return fail(BadRequest("Each tag needs a Key"));
        tags[JsonString(x.as_object(), "Key")] =
            JsonString(x.as_object(), "Value");
      }
      Status s = store_->Put("tags", arn, json::serialize(tags), false);
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    if (arn.empty()) return fail(BadRequest("ResourceArn is required"));
    load(arn);
    if (m == "GET") {
      json::array list;
      for (auto& [k, v] : tags) {
        json::object t;
        t["Key"] = k;
        t["Value"] = v;
        list.push_back(t);
      }
      json::object out;
      out["Tags"] = list;
      return JsonOk(json::serialize(out));
    }
    if (m == "DELETE") {
      // TagKeys repeats: ?ResourceArn=..&TagKeys=a&TagKeys=b
      size_t start = 0;
      while (start <= req.query.size()) {
        size_t amp = req.query.find('&', start);
        std::string pair = req.query.substr(
            start, amp == std::string::npos ? std::string::npos : amp - start);
        size_t eq = pair.find('=');
        if (eq != std::string::npos &&
            auth::PercentDecode(pair.substr(0, eq)) == "TagKeys") {
          tags.erase(auth::PercentDecode(pair.substr(eq + 1)));
        }
        if (amp == std::string::npos) break;
        start = amp + 1;
      }
      Status s = store_->Put("tags", arn, json::serialize(tags), false);
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    return std::nullopt;
  }

  // --- templates
  // ---------------------------------------------------------------
  if (coll == "templates") {
    if (seg.size() == 3 && m == "POST") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string name = JsonString(*o, "TemplateName");
      auto* c = o->if_contains("TemplateContent");
      if (name.empty() || !c || !c->is_object())
        return fail(
            BadRequest("TemplateName and TemplateContent are required"));
      Status s = resources->PutTemplate(name,
                                        {JsonString(c->as_object(), "Subject"),
                                         JsonString(c->as_object(), "Text"),
                                         JsonString(c->as_object(), "Html")},
                                        true);
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    if (seg.size() == 3 && m == "GET") {
      auto page = Page(store_, "template", req);
      if (page.index() == 1) return fail(std::get<1>(page));
      json::array meta;
      for (auto& [name, body] : std::get<0>(page).first) {
        json::object e;
        e["TemplateName"] = name;
        e["CreatedTimestamp"] =
            json::parse(body).as_object()["CreatedTimestamp"];
        meta.push_back(e);
      }
      json::object out;
      out["TemplatesMetadata"] = meta;
      if (!std::get<0>(page).second.empty())
        out["NextToken"] = std::get<0>(page).second;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() >= 4) {
      const std::string& name = seg[3];
      if (seg.size() == 5 && seg[4] == "render" && m == "POST")
        return std::nullopt;  // rendering lives in Api
      if (seg.size() != 4) return std::nullopt;
      if (m == "GET") {
        auto t = resources->GetTemplate(name);
        if (!t) return fail(NotFound("Template " + name + " does not exist."));
        json::object c, out;
        c["Subject"] = t->subject;
        c["Text"] = t->text;
        c["Html"] = t->html;
        out["TemplateName"] = name;
        out["TemplateContent"] = c;
        return JsonOk(json::serialize(out));
      }
      if (m == "PUT") {
        auto o = ParseObject(req.body, &err);
        if (!o) return fail(err);
        if (!resources->GetTemplate(name))
          return fail(NotFound("Template " + name + " does not exist."));
        auto* c = o->if_contains("TemplateContent");
        if (!c || !c->is_object())
          return fail(BadRequest("TemplateContent is required"));
        Status s =
            resources->PutTemplate(name,
                                   {JsonString(c->as_object(), "Subject"),
                                    JsonString(c->as_object(), "Text"),
                                    JsonString(c->as_object(), "Html")},
                                   false);
        if (!s.ok()) return store_fail(s.error());
        return JsonOk("{}");
      }
      if (m == "DELETE") {
        auto d = resources->DeleteTemplate(name);
        if (!d.ok()) return store_fail(d.error());
        if (!*d) return fail(NotFound("Template " + name + " does not exist."));
        return JsonOk("{}");
      }
    }
    return std::nullopt;
  }

  // --- identities
  // ----------------------------------------------------------------
  if (coll == "identities") {
    if (seg.size() == 3 && m == "POST") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string id = JsonString(*o, "EmailIdentity");
      if (id.empty() || id.find_first_of("\r\n ") != std::string::npos) {
        return fail(BadRequest("EmailIdentity is required"));
      }
      if (resources->IdentityExists(id))
        return fail(Exists("Email identity " + id + " already exists."));
      Status s = resources->AddIdentity(id);
      if (!s.ok()) return store_fail(s.error());
      if (id.find('@') == std::string::npos && dkim_) {
        auto k = dkim_->Ensure(id);  // Easy DKIM: a key per domain identity
        if (!k.ok()) return store_fail(k.error());
      }
      json::object out;
      out["IdentityType"] =
          id.find('@') == std::string::npos ? "DOMAIN" : "EMAIL_ADDRESS";
      out["VerifiedForSendingStatus"] = auto_verify_;
      out["DkimAttributes"] = DkimAttributes(dkim_, id, auto_verify_);
      return JsonOk(json::serialize(out));
    }
    if (seg.size() == 3 && m == "GET") {
      auto page = Page(store_, "identity", req);
      if (page.index() == 1) return fail(std::get<1>(page));
      json::array list;
      for (auto& [name, body] : std::get<0>(page).first) {
        json::object doc = json::parse(body).as_object(), e;
        e["IdentityType"] = doc["IdentityType"];
        e["IdentityName"] = name;
        e["SendingEnabled"] = true;
        e["VerificationStatus"] = doc["VerificationStatus"];
        list.push_back(e);
      }
      json::object out;
      out["EmailIdentities"] = list;
      if (!std::get<0>(page).second.empty())
        out["NextToken"] = std::get<0>(page).second;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() == 6 && seg[4] == "dkim" && seg[5] == "signing" &&
        m == "PUT" && dkim_) {
      // PutEmailIdentityDkimSigningAttributes: BYODKIM (EXTERNAL) or back to
      // Easy DKIM.
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string origin = JsonString(*o, "SigningAttributesOrigin");
      const std::string& id = seg[3];
      if (!resources->IdentityExists(id) || id.find('@') != std::string::npos) {
        return fail(NotFound("Domain identity " + id + " does not exist."));
      }
      Result<DkimKeys::Info> info = Error::Permanent("", "");
      if (origin == "EXTERNAL") {
        auto* sa = o->if_contains("SigningAttributes");
        std::string selector =
            sa && sa->is_object()
                ? JsonString(sa->as_object(), "DomainSigningSelector")
                : "";
        std::string key64 =
            sa && sa->is_object()
                ? JsonString(sa->as_object(), "DomainSigningPrivateKey")
                : "";
        auto der = Base64Decode(key64);
        if (selector.empty() ||
            selector.find_first_of("./ ") != std::string::npos || !der) {
          return fail(
              BadRequest("EXTERNAL needs DomainSigningSelector and a base64 "
                         "DomainSigningPrivateKey"));
        }
        auto key = dkim::PrivateKey::FromDer(*der);
        if (!key.ok())
          return fail(
              BadRequest("DomainSigningPrivateKey: " + key.error().message()));
        info = dkim_->SetExternal(id, selector, *key);
      } else if (origin == "AWS_SES") {
        auto* sa = o->if_contains("SigningAttributes");
        std::string len =
            sa && sa->is_object()
                ? JsonString(sa->as_object(), "NextSigningKeyLength")
                : "";
        int bits = len == "RSA_1024_BIT" ? 1024 : 2048;
        auto current = dkim_->Find(id);
        if (current && current->origin == "AWS_SES") {
          // Rotation with overlap: publish the next selector first; it signs
          // once the verifier sees it resolve (at once when auto-verifying).
          info = dkim_->Rotate(id, bits);
          if (info.ok() && auto_verify_) {
            (void)dkim_->Promote(id);
            info = dkim_->Ensure(id);
          }
        } else {
          info = dkim_->Regenerate(id, bits);
        }
      } else {
        return fail(
            BadRequest("SigningAttributesOrigin must be AWS_SES or EXTERNAL"));
      }
      if (!info.ok()) return store_fail(info.error());
      json::object out;
      out["DkimStatus"] = auto_verify_ ? "SUCCESS" : "PENDING";
      json::array tokens;
      tokens.push_back(json::string(info->selector));
      if (!info->next_selector.empty())
        tokens.push_back(json::string(info->next_selector));
      out["DkimTokens"] = tokens;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() >= 5 && seg[4] == "policies") {
      // Sending authorization (Create/Update/Delete/GetEmailIdentityPolicies).
      auto policy_fail = [&](const Error& e) {
        if (e.code() == "not_found") return fail(NotFound(e.message()));
        if (e.code() == "invalid_policy") return fail(BadRequest(e.message()));
        if (e.code() == "limit")
          return fail(
              {400, "LimitExceededException", "LimitExceeded", e.message()});
        return store_fail(e);
      };
      if (seg.size() == 5 && m == "GET") {
        auto p = resources->Policies(seg[3]);
        if (!p.ok()) return policy_fail(p.error());
        json::object list;
        for (const auto& [k, v] : *p) list[k] = v;
        json::object out;
        out["Policies"] = std::move(list);
        return JsonOk(json::serialize(out));
      }
      if (seg.size() == 6 && m == "DELETE") {
        Status s = resources->DeletePolicy(seg[3], seg[5]);
        if (!s.ok()) return policy_fail(s.error());
        return JsonOk("{}");
      }
      if (seg.size() == 6 && (m == "POST" || m == "PUT")) {
        auto o = ParseObject(req.body, &err);
        if (!o) return fail(err);
        auto* policy = o->if_contains("Policy");
        if (!policy || !policy->is_string())
          return fail(
              BadRequest("Policy (a JSON document as a string) is "
                         "required"));
        Status s = resources->PutPolicy(
            seg[3], seg[5], std::string(policy->as_string()),
            m == "POST" ? Resources::PolicyWrite::kCreate
                        : Resources::PolicyWrite::kUpdate);
        if (!s.ok()) return policy_fail(s.error());
        return JsonOk("{}");
      }
    }
    if (seg.size() == 5 && seg[4] == "mail-from" && m == "PUT") {
      // PutEmailIdentityMailFromAttributes; the verifier checks its MX and SPF.
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      Status s =
          resources->SetMailFrom(seg[3], JsonString(*o, "MailFromDomain"),
                                 JsonString(*o, "BehaviorOnMxFailure"));
      if (!s.ok() && s.error().code() == "not_found")
        return fail(NotFound(s.error().message()));
      if (!s.ok() && s.error().code() == "invalid")
        return fail(BadRequest(s.error().message()));
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    if (seg.size() == 5 && seg[4] == "dkim" && m == "PUT" && dkim_) {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      auto* en = o->if_contains("SigningEnabled");
      if (!en || !en->is_bool())
        return fail(BadRequest("SigningEnabled must be a boolean"));
      Status s = dkim_->SetSigning(seg[3], en->as_bool());
      if (!s.ok()) return fail(NotFound(s.error().message()));
      return JsonOk("{}");
    }
    if (seg.size() == 4) {
      const std::string& id = seg[3];
      auto doc = store_->Get("identity", AsciiLowerCopy(id));
      if (!doc.ok() || !doc->has_value())
        return fail(NotFound("Email identity " + id + " does not exist."));
      if (m == "GET") {
        json::object d = json::parse(**doc).as_object(), out, mail_from,
                     policies, tags;
        out["IdentityType"] = d["IdentityType"];
        out["FeedbackForwardingStatus"] = true;
        out["VerifiedForSendingStatus"] = d["VerificationStatus"] == "SUCCESS";
        out["DkimAttributes"] =
            DkimAttributes(dkim_, AsciiLowerCopy(id), auto_verify_);
        auto field = [&](const char* k, const char* def) {
          auto* v = d.if_contains(k);
          return v && v->is_string() ? json::value(v->as_string())
                                     : json::value(def);
        };
        mail_from["MailFromDomain"] = field("MailFromDomain", "");
        mail_from["MailFromDomainStatus"] =
            field("MailFromDomainStatus", "PENDING");
        mail_from["BehaviorOnMxFailure"] =
            field("BehaviorOnMxFailure", "USE_DEFAULT_VALUE");
        out["MailFromAttributes"] = mail_from;
        if (auto* p = d.if_contains("Policies"); p && p->is_object())
          policies = p->as_object();
        out["Policies"] = policies;
        out["Tags"] = json::array();
        out["VerificationStatus"] = d["VerificationStatus"];
        json::object vi;
        if (d.contains("LastCheckedTimestamp"))
          vi["LastCheckedTimestamp"] = d["LastCheckedTimestamp"];
        if (d.contains("LastSuccessTimestamp"))
          vi["LastSuccessTimestamp"] = d["LastSuccessTimestamp"];
        out["VerificationInfo"] = vi;
        if (out["DkimAttributes"].as_object()["Status"] != "NOT_STARTED") {
          out["DkimAttributes"].as_object()["Status"] = d["VerificationStatus"];
        }
        return JsonOk(json::serialize(out));
      }
      if (m == "DELETE") {
        auto r = resources->DeleteIdentity(id);
        if (!r.ok()) return store_fail(r.error());
        return JsonOk("{}");
      }
    }
    return std::nullopt;
  }

  // --- configuration sets
  // ----------------------------------------------------------
  if (coll == "configuration-sets") {
    if (seg.size() == 3 && m == "POST") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string name = JsonString(*o, "ConfigurationSetName");
      if (name.empty())
        return fail(BadRequest("ConfigurationSetName is required"));
      if (Status v = CheckResourceName("configuration set", name); !v.ok())
        return store_fail(v.error());
      if (auto* d = o->if_contains("DeliveryOptions"); d && d->is_object()) {
        if (auto* mds = d->as_object().if_contains("MaxDeliverySeconds");
            mds && mds->is_number()) {
          double v = mds->to_number<double>();
          if (v < 300 || v > 50400)
            return fail(
                BadRequest("MaxDeliverySeconds must be between 300 and 50400"));
        }
      }
      (*o)["EventDestinations"] = json::object();
      Status s =
          store_->Put("configuration-set", name, json::serialize(*o), true);
      if (!s.ok()) {
        if (s.error().code() == "exists")
          return fail(Exists("Configuration set " + name + " already exists."));
        return store_fail(s.error());
      }
      return JsonOk("{}");
    }
    if (seg.size() == 3 && m == "GET") {
      auto page = Page(store_, "configuration-set", req);
      if (page.index() == 1) return fail(std::get<1>(page));
      json::array names;
      for (auto& [name, body] : std::get<0>(page).first)
        names.push_back(json::string(name));
      json::object out;
      out["ConfigurationSets"] = names;
      if (!std::get<0>(page).second.empty())
        out["NextToken"] = std::get<0>(page).second;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() == 5 && seg[4] == "sending" && m == "PUT") {
      // PutConfigurationSetSendingOptions: also for the config file's sets,
      // and it lifts a pause by an alarm or reputation enforcement.
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      auto* en = o->if_contains("SendingEnabled");
      if (en && !en->is_bool())
        return fail(BadRequest("SendingEnabled must be a boolean"));
      const std::string& name = seg[3];
      auto doc = store_->Get("configuration-set", name);
      if ((!doc.ok() || !doc->has_value()) &&
          !resources->config_file_sets().count(name))
        return fail(NotFound("Configuration set " + name + " does not exist."));
      resources->SetConfigurationSetSendingEnabled(name, !en || en->as_bool());
      return JsonOk("{}");
    }
    if (seg.size() >= 4) {
      const std::string& name = seg[3];
      auto doc = store_->Get("configuration-set", name);
      if (!doc.ok() || !doc->has_value())
        return fail(NotFound("Configuration set " + name + " does not exist."));
      json::object cs = json::parse(**doc).as_object();
      auto save = [&]() -> std::optional<HttpResponse> {
        Status s =
            store_->Put("configuration-set", name, json::serialize(cs), false);
        if (!s.ok()) return store_fail(s.error());
        return JsonOk("{}");
      };
      if (seg.size() == 4 && m == "GET") {
        cs.erase("EventDestinations");
        return JsonOk(json::serialize(cs));
      }
      if (seg.size() == 4 && m == "DELETE") {
        auto r = store_->Delete("configuration-set", name);
        if (!r.ok()) return store_fail(r.error());
        return JsonOk("{}");
      }
      if (seg.size() == 5 && m == "PUT" && seg[4] != "event-destinations") {
        // PutConfigurationSet{Sending,SuppressionOptions,TrackingOptions,DeliveryOptions,ReputationOptions}
        static const std::map<std::string, std::string> kFields = {
            {"sending", "SendingOptions"},
            {"suppression-options", "SuppressionOptions"},
            {"tracking-options", "TrackingOptions"},
            {"delivery-options", "DeliveryOptions"},
            {"reputation-options", "ReputationOptions"}};
        auto f = kFields.find(seg[4]);
        if (f == kFields.end()) return std::nullopt;
        auto o = ParseObject(req.body, &err);
        if (!o) return fail(err);
        cs[f->second] = *o;
        return save();
      }
      if (seg.size() >= 5 && seg[4] == "event-destinations") {
        json::object& dests =
            cs["EventDestinations"].is_object()
                ? cs["EventDestinations"].as_object()
                : (cs["EventDestinations"] = json::object()).as_object();
        if (seg.size() == 5 && m == "POST") {
          auto o = ParseObject(req.body, &err);
          if (!o) return fail(err);
          std::string dn = JsonString(*o, "EventDestinationName");
          auto* ed = o->if_contains("EventDestination");
          if (dn.empty() || !ed || !ed->is_object()) {
            return fail(BadRequest(
                "EventDestinationName and EventDestination are required"));
          }
          if (dests.contains(dn))
            return fail(Exists("Event destination " + dn + " already exists."));
          dests[dn] = *ed;
          return save();
        }
        if (seg.size() == 5 && m == "GET") {
          json::array list;
          for (auto& [dn, ed] : dests) {
            json::object e = ed.as_object();
            e["Name"] = dn;
            if (!e.contains("Enabled")) e["Enabled"] = false;
            list.push_back(e);
          }
          json::object out;
          out["EventDestinations"] = list;
          return JsonOk(json::serialize(out));
        }
        if (seg.size() == 6) {
          const std::string& dn = seg[5];
          if (!dests.contains(dn))
            return fail(
                NotFound("Event destination " + dn + " does not exist."));
          if (m == "DELETE") {
            dests.erase(dn);
            return save();
          }
          if (m == "PUT") {
            auto o = ParseObject(req.body, &err);
            if (!o) return fail(err);
            auto* ed = o->if_contains("EventDestination");
            if (!ed || !ed->is_object())
              return fail(BadRequest("EventDestination is required"));
            dests[dn] = *ed;
            return save();
          }
        }
      }
    }
    return std::nullopt;
  }

  // --- suppression list
  // --------------------------------------------------------------
  if (coll == "suppression" && seg.size() >= 4 && seg[3] == "addresses") {
    if (seg.size() == 4 && m == "PUT") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string addr = JsonString(*o, "EmailAddress"),
                  reason = JsonString(*o, "Reason");
      if (addr.empty() || (reason != "BOUNCE" && reason != "COMPLAINT")) {
        return fail(BadRequest(
            "EmailAddress and Reason (BOUNCE or COMPLAINT) are required"));
      }
      json::object d;
      d["EmailAddress"] = addr;
      d["Reason"] = reason;
      d["LastUpdateTime"] = NowMillis() / 1000;
      Status s = store_->Put("suppressed", AsciiLowerCopy(addr),
                             json::serialize(d), false);
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    if (seg.size() == 4 && m == "GET") {
      auto page = Page(store_, "suppressed", req);
      if (page.index() == 1) return fail(std::get<1>(page));
      json::array list;
      for (auto& [name, body] : std::get<0>(page).first)
        list.push_back(json::parse(body));
      json::object out;
      out["SuppressedDestinationSummaries"] = list;
      if (!std::get<0>(page).second.empty())
        out["NextToken"] = std::get<0>(page).second;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() == 5) {
      auto doc = store_->Get("suppressed", AsciiLowerCopy(seg[4]));
      if (!doc.ok() || !doc->has_value()) {
        return fail(NotFound("Email address " + seg[4] +
                             " does not exist on your suppression list."));
      }
      if (m == "GET") {
        json::object out;
        out["SuppressedDestination"] = json::parse(**doc);
        return JsonOk(json::serialize(out));
      }
      if (m == "DELETE") {
        auto r = store_->Delete("suppressed", AsciiLowerCopy(seg[4]));
        if (!r.ok()) return store_fail(r.error());
        return JsonOk("{}");
      }
    }
    return std::nullopt;
  }

  // --- dedicated IP pools
  // ------------------------------------------------------------
  if (coll == "dedicated-ip-pools") {
    if (seg.size() == 3 && m == "POST") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string name = JsonString(*o, "PoolName");
      if (name.empty()) return fail(BadRequest("PoolName is required"));
      if (Status v = CheckResourceName("dedicated IP pool", name); !v.ok())
        return store_fail(v.error());
      json::object d;
      d["PoolName"] = name;
      d["ScalingMode"] = JsonString(*o, "ScalingMode").empty()
                             ? "STANDARD"
                             : JsonString(*o, "ScalingMode");
      Status s = store_->Put("ip-pool", name, json::serialize(d), true);
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    if (seg.size() == 3 && m == "GET") {
      auto page = Page(store_, "ip-pool", req);
      if (page.index() == 1) return fail(std::get<1>(page));
      json::array names;
      for (auto& [name, body] : std::get<0>(page).first)
        names.push_back(json::string(name));
      json::object out;
      out["DedicatedIpPools"] = names;
      if (!std::get<0>(page).second.empty())
        out["NextToken"] = std::get<0>(page).second;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() == 4) {
      auto doc = store_->Get("ip-pool", seg[3]);
      if (!doc.ok() || !doc->has_value())
        return fail(NotFound("Pool " + seg[3] + " does not exist."));
      if (m == "GET") {
        json::object out;
        out["DedicatedIpPool"] = json::parse(**doc);
        return JsonOk(json::serialize(out));
      }
      if (m == "DELETE") {
        auto r = store_->Delete("ip-pool", seg[3]);
        if (!r.ok()) return store_fail(r.error());
        return JsonOk("{}");
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace sesame::api
