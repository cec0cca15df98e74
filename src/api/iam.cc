// The IAM Query API (2010-05-08): users, groups, managed and inline
// policies, access keys and the policy simulator, as `aws iam` and boto3's
// iam client speak it. State is auth::IamStore's; keys are the KeyStore's.
#include "api/impl.h"

namespace sesame::api {

namespace {

using Form = std::map<std::string, std::string>;

// What an IAM operation works on (Api::Impl's, which is private to Api).
struct IamContext {
  const config::Config& config;
  auth::IamStore* iam;
  auth::KeyStore* keys;
};

struct IamCall {
  IamContext api;
  const Caller& caller;
  const std::string& action;
  Form& form;
};
using IamHandler = HttpResponse (*)(IamCall&);

std::string Date(int64_t epoch_seconds) {
  return IsoTime(epoch_seconds * 1000);
}

std::string El(const std::string& name, const std::string& value) {
  return "<" + name + ">" + XmlEscape(value) + "</" + name + ">";
}

// IAM's policy documents travel URL-encoded (botocore decodes them).
std::string Document(const std::string& json) {
  return auth::UriEncode(json, false);
}

HttpResponse Fail(const Error& e) {
  const std::string& code = e.code();
  int status = 400;
  if (code == "NoSuchEntity") status = 404;
  if (code == "EntityAlreadyExists" || code == "DeleteConflict" ||
      code == "LimitExceeded")
    status = 409;
  if (code == "iam" || code == "keys") status = 500;
  std::string v1 = status == 500 ? "ServiceFailure" : code;
  return V1Error({status, "", v1, e.message()}, kIamXmlns);
}

HttpResponse Invalid(const std::string& message) {
  return V1Error({400, "", "ValidationError", message}, kIamXmlns);
}

HttpResponse Ok(IamCall& c, const std::string& result) {
  return V1Ok(c.action, result, kIamXmlns);
}

std::string Required(IamCall& c, const char* name) {
  auto it = c.form.find(name);
  return it == c.form.end() ? "" : it->second;
}

std::optional<HttpResponse> Missing(IamCall& c,
                                    std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (Required(c, n).empty())
      return Invalid("1 validation error detected: Value null at '" +
                     std::string(1, static_cast<char>(std::tolower(n[0]))) +
                     std::string(n + 1) +
                     "' failed to satisfy constraint: Member must not be null");
  }
  return std::nullopt;
}

std::string Tags(const auth::Tags& tags) {
  std::string out;
  for (const auto& [k, v] : tags)
    out += "<member>" + El("Key", k) + El("Value", v) + "</member>";
  return out;
}

std::string UserXml(IamCall& c, const auth::IamUser& u, bool with_tags) {
  std::string x = El("Path", u.path) + El("UserName", u.name) +
                  El("UserId", u.id) + El("Arn", c.api.iam->UserArn(u)) +
                  El("CreateDate", Date(u.created));
  if (with_tags && !u.tags.empty()) x += "<Tags>" + Tags(u.tags) + "</Tags>";
  return x;
}

std::string GroupXml(IamCall& c, const auth::IamGroup& g) {
  return El("Path", g.path) + El("GroupName", g.name) + El("GroupId", g.id) +
         El("Arn", c.api.iam->GroupArn(g)) + El("CreateDate", Date(g.created));
}

std::string PolicyXml(IamCall& c, const auth::ManagedPolicy& p) {
  std::string x =
      El("PolicyName", p.name) + El("DefaultVersionId", p.default_version) +
      El("PolicyId", p.id) + El("Path", p.path) + El("Arn", p.arn) +
      El("AttachmentCount", std::to_string(c.api.iam->AttachmentCount(p.arn))) +
      "<PermissionsBoundaryUsageCount>0</PermissionsBoundaryUsageCount>"
      "<IsAttachable>true</IsAttachable>";
  if (!p.description.empty()) x += El("Description", p.description);
  return x + El("CreateDate", Date(p.created)) +
         El("UpdateDate", Date(p.updated));
}

std::string VersionXml(const auth::PolicyVersion& v, bool is_default,
                       bool with_document) {
  return (with_document ? El("Document", Document(v.document)) : "") +
         El("VersionId", v.id) +
         El("IsDefaultVersion", is_default ? "true" : "false") +
         El("CreateDate", Date(v.created));
}

// IAM's list pages: Marker (an offset here) and MaxItems (1..1000, 100).
template <typename T, typename Render>
std::string Page(IamCall& c, const std::vector<T>& items, const char* wrapper,
                 Render render) {
  size_t start = std::strtoul(Required(c, "Marker").c_str(), nullptr, 10);
  size_t max = 100;
  if (std::string m = Required(c, "MaxItems"); !m.empty())
    max = std::clamp<size_t>(std::strtoul(m.c_str(), nullptr, 10), 1, 1000);
  std::string members;
  size_t i = start;
  for (; i < items.size() && i < start + max; ++i)
    members += "<member>" + render(items[i]) + "</member>";
  std::string x =
      std::string("<") + wrapper + ">" + members + "</" + wrapper + ">";
  if (i < items.size())
    return x + "<IsTruncated>true</IsTruncated>" +
           El("Marker", std::to_string(i));
  return x + "<IsTruncated>false</IsTruncated>";
}

// The user a key operation is about: UserName, or the caller's own.
std::string SubjectUser(IamCall& c) {
  std::string u = Required(c, "UserName");
  return u.empty() ? c.caller.who.user : u;
}

// --- users ------------------------------------------------------------------

HttpResponse CreateUser(IamCall& c) {
  if (auto m = Missing(c, {"UserName"})) return *m;
  std::string path = Required(c, "Path");
  auto u = c.api.iam->CreateUser(Required(c, "UserName"),
                                 path.empty() ? "/" : path, FormTags(c.form));
  if (!u.ok()) return Fail(u.error());
  return Ok(c, "<User>" + UserXml(c, *u, true) + "</User>");
}

HttpResponse GetUser(IamCall& c) {
  std::string name = SubjectUser(c);
  if (name.empty()) {
    // The root: IAM answers with the account's own ARN.
    return Ok(c, "<User>" + El("UserId", c.api.config.api_account_id) +
                     El("Arn", "arn:aws:iam::" + c.api.config.api_account_id +
                                   ":root") +
                     El("CreateDate", Date(0)) + "</User>");
  }
  auto u = c.api.iam->GetUser(name);
  if (!u.ok()) return Fail(u.error());
  return Ok(c, "<User>" + UserXml(c, *u, true) + "</User>");
}

HttpResponse ListUsers(IamCall& c) {
  std::string prefix = Required(c, "PathPrefix");
  auto users = c.api.iam->ListUsers(prefix.empty() ? "/" : prefix);
  if (!users.ok()) return Fail(users.error());
  return Ok(c, Page(c, *users, "Users", [&c](const auth::IamUser& u) {
              return UserXml(c, u, false);
            }));
}

bool HasKeys(IamCall& c, const std::string& user) {
  auto keys = c.api.keys->List();
  if (!keys.ok()) return true;
  for (const auto& k : *keys) {
    if (k.account.empty() && k.user == user) return true;
  }
  return false;
}

HttpResponse DeleteUser(IamCall& c) {
  if (auto m = Missing(c, {"UserName"})) return *m;
  std::string name = Required(c, "UserName");
  if (Status s = c.api.iam->DeleteUser(name, HasKeys(c, name)); !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}

HttpResponse TagUser(IamCall& c) {
  if (auto m = Missing(c, {"UserName"})) return *m;
  if (Status s = c.api.iam->TagUser(Required(c, "UserName"), FormTags(c.form));
      !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}

HttpResponse UntagUser(IamCall& c) {
  if (auto m = Missing(c, {"UserName"})) return *m;
  if (Status s = c.api.iam->UntagUser(Required(c, "UserName"),
                                      Members(c.form, "TagKeys"));
      !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}

HttpResponse ListUserTags(IamCall& c) {
  if (auto m = Missing(c, {"UserName"})) return *m;
  auto u = c.api.iam->GetUser(Required(c, "UserName"));
  if (!u.ok()) return Fail(u.error());
  return Ok(
      c, "<Tags>" + Tags(u->tags) + "</Tags><IsTruncated>false</IsTruncated>");
}

// --- groups -----------------------------------------------------------------

HttpResponse CreateGroup(IamCall& c) {
  if (auto m = Missing(c, {"GroupName"})) return *m;
  std::string path = Required(c, "Path");
  auto g = c.api.iam->CreateGroup(Required(c, "GroupName"),
                                  path.empty() ? "/" : path);
  if (!g.ok()) return Fail(g.error());
  return Ok(c, "<Group>" + GroupXml(c, *g) + "</Group>");
}

HttpResponse GetGroup(IamCall& c) {
  if (auto m = Missing(c, {"GroupName"})) return *m;
  auto g = c.api.iam->GetGroup(Required(c, "GroupName"));
  if (!g.ok()) return Fail(g.error());
  auto names = c.api.iam->GroupMembers(g->name);
  if (!names.ok()) return Fail(names.error());
  std::vector<auth::IamUser> users;
  for (const auto& n : *names) {
    if (auto u = c.api.iam->GetUser(n); u.ok()) users.push_back(*u);
  }
  return Ok(c, "<Group>" + GroupXml(c, *g) + "</Group>" +
                   Page(c, users, "Users", [&c](const auth::IamUser& u) {
                     return UserXml(c, u, false);
                   }));
}

HttpResponse ListGroups(IamCall& c) {
  std::string prefix = Required(c, "PathPrefix");
  auto groups = c.api.iam->ListGroups(prefix.empty() ? "/" : prefix);
  if (!groups.ok()) return Fail(groups.error());
  return Ok(c, Page(c, *groups, "Groups",
                    [&c](const auth::IamGroup& g) { return GroupXml(c, g); }));
}

HttpResponse DeleteGroup(IamCall& c) {
  if (auto m = Missing(c, {"GroupName"})) return *m;
  if (Status s = c.api.iam->DeleteGroup(Required(c, "GroupName")); !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}

HttpResponse AddUserToGroup(IamCall& c) {
  if (auto m = Missing(c, {"GroupName", "UserName"})) return *m;
  if (Status s = c.api.iam->AddUserToGroup(Required(c, "GroupName"),
                                           Required(c, "UserName"));
      !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}

HttpResponse RemoveUserFromGroup(IamCall& c) {
  if (auto m = Missing(c, {"GroupName", "UserName"})) return *m;
  if (Status s = c.api.iam->RemoveUserFromGroup(Required(c, "GroupName"),
                                                Required(c, "UserName"));
      !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}

HttpResponse ListGroupsForUser(IamCall& c) {
  if (auto m = Missing(c, {"UserName"})) return *m;
  auto u = c.api.iam->GetUser(Required(c, "UserName"));
  if (!u.ok()) return Fail(u.error());
  std::vector<auth::IamGroup> groups;
  for (const auto& n : u->groups) {
    if (auto g = c.api.iam->GetGroup(n); g.ok()) groups.push_back(*g);
  }
  return Ok(c, Page(c, groups, "Groups",
                    [&c](const auth::IamGroup& g) { return GroupXml(c, g); }));
}

// --- managed policies -------------------------------------------------------

HttpResponse CreatePolicy(IamCall& c) {
  if (auto m = Missing(c, {"PolicyName", "PolicyDocument"})) return *m;
  std::string path = Required(c, "Path");
  auto p = c.api.iam->CreatePolicy(
      Required(c, "PolicyName"), path.empty() ? "/" : path,
      Required(c, "PolicyDocument"), Required(c, "Description"));
  if (!p.ok()) return Fail(p.error());
  return Ok(c, "<Policy>" + PolicyXml(c, *p) + "</Policy>");
}

HttpResponse GetPolicy(IamCall& c) {
  if (auto m = Missing(c, {"PolicyArn"})) return *m;
  auto p = c.api.iam->GetPolicy(Required(c, "PolicyArn"));
  if (!p.ok()) return Fail(p.error());
  return Ok(c, "<Policy>" + PolicyXml(c, *p) + "</Policy>");
}

HttpResponse ListPolicies(IamCall& c) {
  std::string scope = Required(c, "Scope");
  if (scope.empty()) scope = "All";
  if (scope != "All" && scope != "AWS" && scope != "Local")
    return Invalid("Scope must be All, AWS or Local");
  auto list =
      c.api.iam->ListPolicies(scope, Required(c, "OnlyAttached") == "true");
  if (!list.ok()) return Fail(list.error());
  std::string prefix = Required(c, "PathPrefix");
  std::erase_if(*list, [&](const auth::ManagedPolicy& p) {
    return !prefix.empty() && p.path.rfind(prefix, 0) != 0;
  });
  return Ok(c, Page(c, *list, "Policies", [&c](const auth::ManagedPolicy& p) {
              return PolicyXml(c, p);
            }));
}

HttpResponse DeletePolicy(IamCall& c) {
  if (auto m = Missing(c, {"PolicyArn"})) return *m;
  if (Status s = c.api.iam->DeletePolicy(Required(c, "PolicyArn")); !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}

HttpResponse CreatePolicyVersion(IamCall& c) {
  if (auto m = Missing(c, {"PolicyArn", "PolicyDocument"})) return *m;
  bool set_default = Required(c, "SetAsDefault") == "true";
  auto v = c.api.iam->CreatePolicyVersion(
      Required(c, "PolicyArn"), Required(c, "PolicyDocument"), set_default);
  if (!v.ok()) return Fail(v.error());
  return Ok(c, "<PolicyVersion>" + VersionXml(*v, set_default, false) +
                   "</PolicyVersion>");
}

HttpResponse GetPolicyVersion(IamCall& c) {
  if (auto m = Missing(c, {"PolicyArn", "VersionId"})) return *m;
  auto p = c.api.iam->GetPolicy(Required(c, "PolicyArn"));
  if (!p.ok()) return Fail(p.error());
  auto v = c.api.iam->GetPolicyVersion(p->arn, Required(c, "VersionId"));
  if (!v.ok()) return Fail(v.error());
  return Ok(c, "<PolicyVersion>" +
                   VersionXml(*v, v->id == p->default_version, true) +
                   "</PolicyVersion>");
}

HttpResponse ListPolicyVersions(IamCall& c) {
  if (auto m = Missing(c, {"PolicyArn"})) return *m;
  auto p = c.api.iam->GetPolicy(Required(c, "PolicyArn"));
  if (!p.ok()) return Fail(p.error());
  std::vector<auth::PolicyVersion> versions(p->versions.rbegin(),
                                            p->versions.rend());
  return Ok(c,
            Page(c, versions, "Versions", [&p](const auth::PolicyVersion& v) {
              return VersionXml(v, v.id == p->default_version, false);
            }));
}

HttpResponse DeletePolicyVersion(IamCall& c) {
  if (auto m = Missing(c, {"PolicyArn", "VersionId"})) return *m;
  if (Status s = c.api.iam->DeletePolicyVersion(Required(c, "PolicyArn"),
                                                Required(c, "VersionId"));
      !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}

HttpResponse SetDefaultPolicyVersion(IamCall& c) {
  if (auto m = Missing(c, {"PolicyArn", "VersionId"})) return *m;
  if (Status s = c.api.iam->SetDefaultPolicyVersion(Required(c, "PolicyArn"),
                                                    Required(c, "VersionId"));
      !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}

// --- attachments and inline policies ----------------------------------------

template <bool kAttach>
HttpResponse AttachOrDetach(IamCall& c, const char* kind, const char* name) {
  if (auto m = Missing(c, {name, "PolicyArn"})) return *m;
  Status s = kAttach ? c.api.iam->Attach(kind, Required(c, name),
                                         Required(c, "PolicyArn"))
                     : c.api.iam->Detach(kind, Required(c, name),
                                         Required(c, "PolicyArn"));
  if (!s.ok()) return Fail(s.error());
  return Ok(c, "");
}
HttpResponse AttachUserPolicy(IamCall& c) {
  return AttachOrDetach<true>(c, "user", "UserName");
}
HttpResponse DetachUserPolicy(IamCall& c) {
  return AttachOrDetach<false>(c, "user", "UserName");
}
HttpResponse AttachGroupPolicy(IamCall& c) {
  return AttachOrDetach<true>(c, "group", "GroupName");
}
HttpResponse DetachGroupPolicy(IamCall& c) {
  return AttachOrDetach<false>(c, "group", "GroupName");
}

HttpResponse ListAttached(IamCall& c, const std::vector<std::string>& arns) {
  std::vector<auth::ManagedPolicy> policies;
  for (const auto& arn : arns) {
    if (auto p = c.api.iam->GetPolicy(arn); p.ok()) policies.push_back(*p);
  }
  return Ok(c, Page(c, policies, "AttachedPolicies",
                    [](const auth::ManagedPolicy& p) {
                      return El("PolicyName", p.name) + El("PolicyArn", p.arn);
                    }));
}
HttpResponse ListAttachedUserPolicies(IamCall& c) {
  if (auto m = Missing(c, {"UserName"})) return *m;
  auto u = c.api.iam->GetUser(Required(c, "UserName"));
  if (!u.ok()) return Fail(u.error());
  return ListAttached(c, u->attached);
}
HttpResponse ListAttachedGroupPolicies(IamCall& c) {
  if (auto m = Missing(c, {"GroupName"})) return *m;
  auto g = c.api.iam->GetGroup(Required(c, "GroupName"));
  if (!g.ok()) return Fail(g.error());
  return ListAttached(c, g->attached);
}

HttpResponse PutInline(IamCall& c, const char* kind, const char* name) {
  if (auto m = Missing(c, {name, "PolicyName", "PolicyDocument"})) return *m;
  if (Status s = c.api.iam->PutInline(kind, Required(c, name),
                                      Required(c, "PolicyName"),
                                      Required(c, "PolicyDocument"));
      !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}
HttpResponse GetInline(IamCall& c, const char* kind, const char* name) {
  if (auto m = Missing(c, {name, "PolicyName"})) return *m;
  auto doc =
      c.api.iam->GetInline(kind, Required(c, name), Required(c, "PolicyName"));
  if (!doc.ok()) return Fail(doc.error());
  return Ok(c, El(name, Required(c, name)) +
                   El("PolicyName", Required(c, "PolicyName")) +
                   El("PolicyDocument", Document(*doc)));
}
HttpResponse DeleteInline(IamCall& c, const char* kind, const char* name) {
  if (auto m = Missing(c, {name, "PolicyName"})) return *m;
  if (Status s = c.api.iam->DeleteInline(kind, Required(c, name),
                                         Required(c, "PolicyName"));
      !s.ok())
    return Fail(s.error());
  return Ok(c, "");
}
HttpResponse ListInline(IamCall& c,
                        const std::map<std::string, std::string>& policies) {
  std::vector<std::string> names;
  for (const auto& [n, d] : policies) names.push_back(n);
  return Ok(c, Page(c, names, "PolicyNames",
                    [](const std::string& n) { return XmlEscape(n); }));
}
HttpResponse PutUserPolicy(IamCall& c) {
  return PutInline(c, "user", "UserName");
}
HttpResponse GetUserPolicy(IamCall& c) {
  return GetInline(c, "user", "UserName");
}
HttpResponse DeleteUserPolicy(IamCall& c) {
  return DeleteInline(c, "user", "UserName");
}
HttpResponse ListUserPolicies(IamCall& c) {
  if (auto m = Missing(c, {"UserName"})) return *m;
  auto u = c.api.iam->GetUser(Required(c, "UserName"));
  if (!u.ok()) return Fail(u.error());
  return ListInline(c, u->inline_policies);
}
HttpResponse PutGroupPolicy(IamCall& c) {
  return PutInline(c, "group", "GroupName");
}
HttpResponse GetGroupPolicy(IamCall& c) {
  return GetInline(c, "group", "GroupName");
}
HttpResponse DeleteGroupPolicy(IamCall& c) {
  return DeleteInline(c, "group", "GroupName");
}
HttpResponse ListGroupPolicies(IamCall& c) {
  if (auto m = Missing(c, {"GroupName"})) return *m;
  auto g = c.api.iam->GetGroup(Required(c, "GroupName"));
  if (!g.ok()) return Fail(g.error());
  return ListInline(c, g->inline_policies);
}

// --- access keys ------------------------------------------------------------

// The key `id` when it belongs to `user` ("" : the root), else NoSuchEntity.
Result<auth::AccessKey> OwnKey(IamCall& c, const std::string& id,
                               const std::string& user) {
  auto k = c.api.keys->Get(id);
  if (!k || !k->account.empty() || k->user != user)
    return Error::Permanent(
        "NoSuchEntity", "The Access Key with id " + id + " cannot be found");
  return *k;
}

std::string KeyXml(const auth::AccessKey& k, bool with_secret) {
  return El("UserName", k.user) + El("AccessKeyId", k.id) +
         El("Status", k.active ? "Active" : "Inactive") +
         (with_secret ? El("SecretAccessKey", k.secret) : "") +
         El("CreateDate", Date(k.created));
}

HttpResponse CreateAccessKey(IamCall& c) {
  std::string user = SubjectUser(c);
  if (!user.empty()) {
    if (auto u = c.api.iam->GetUser(user); !u.ok()) return Fail(u.error());
  }
  auto keys = c.api.keys->List();
  if (!keys.ok()) return Fail(keys.error());
  int n = 0;
  for (const auto& k : *keys) n += k.account.empty() && k.user == user;
  if (n >= 2)
    return Fail(Error::Permanent(
        "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2"));
  auto k = c.api.keys->Create("", user);
  if (!k.ok()) return Fail(k.error());
  return Ok(c, "<AccessKey>" + KeyXml(*k, true) + "</AccessKey>");
}

HttpResponse ListAccessKeys(IamCall& c) {
  std::string user = SubjectUser(c);
  if (!user.empty()) {
    if (auto u = c.api.iam->GetUser(user); !u.ok()) return Fail(u.error());
  }
  auto keys = c.api.keys->List();
  if (!keys.ok()) return Fail(keys.error());
  std::erase_if(*keys, [&](const auth::AccessKey& k) {
    return !k.account.empty() || k.user != user;
  });
  return Ok(c, Page(c, *keys, "AccessKeyMetadata",
                    [](const auth::AccessKey& k) { return KeyXml(k, false); }) +
                   (user.empty() ? "" : El("UserName", user)));
}

HttpResponse UpdateAccessKey(IamCall& c) {
  if (auto m = Missing(c, {"AccessKeyId", "Status"})) return *m;
  std::string status = Required(c, "Status");
  if (status != "Active" && status != "Inactive")
    return Invalid("1 validation error detected: Value '" + status +
                   "' at 'status' failed to satisfy constraint: Member must "
                   "satisfy enum value set: [Active, Inactive]");
  auto k = OwnKey(c, Required(c, "AccessKeyId"), SubjectUser(c));
  if (!k.ok()) return Fail(k.error());
  auto done = c.api.keys->SetActive(k->id, status == "Active");
  if (!done.ok()) return Fail(done.error());
  return Ok(c, "");
}

HttpResponse DeleteAccessKey(IamCall& c) {
  if (auto m = Missing(c, {"AccessKeyId"})) return *m;
  auto k = OwnKey(c, Required(c, "AccessKeyId"), SubjectUser(c));
  if (!k.ok()) return Fail(k.error());
  auto done = c.api.keys->Delete(k->id);
  if (!done.ok()) return Fail(done.error());
  return Ok(c, "");
}

HttpResponse GetAccessKeyLastUsed(IamCall& c) {
  if (auto m = Missing(c, {"AccessKeyId"})) return *m;
  auto k = c.api.keys->Get(Required(c, "AccessKeyId"));
  if (!k || !k->account.empty())
    return V1Error({403, "", "AccessDenied",
                    "The Access Key with id " + Required(c, "AccessKeyId") +
                        " cannot be found"},
                   kIamXmlns);
  std::string used = k->last_used
                         ? El("LastUsedDate", Date(k->last_used)) +
                               El("ServiceName", k->last_service) +
                               El("Region", k->last_region)
                         : El("ServiceName", "N/A") + El("Region", "N/A");
  return Ok(c, (k->user.empty() ? "" : El("UserName", k->user)) +
                   "<AccessKeyLastUsed>" + used + "</AccessKeyLastUsed>");
}

// --- the policy simulator ---------------------------------------------------

// Evaluates every (action, resource) pair against `policies` (and, for a
// user, its context), as IAM's simulator reports: allowed, explicitDeny or
// implicitDeny.
HttpResponse Simulate(IamCall& c, const std::vector<std::string>& policies,
                      const std::string& user) {
  std::vector<std::string> actions = Members(c.form, "ActionNames");
  if (actions.empty())
    return Invalid("ActionNames must name at least one action");
  std::vector<std::string> resources = Members(c.form, "ResourceArns");
  if (resources.empty()) resources = {"*"};
  auth::AuthzRequest base;
  for (int i = 1;; ++i) {
    std::string p = "ContextEntries.member." + std::to_string(i) + ".";
    auto key = c.form.find(p + "ContextKeyName");
    if (key == c.form.end()) break;
    base.context[key->second] = Members(c.form, p + "ContextKeyValues");
  }
  std::string results;
  for (const auto& action : actions) {
    for (const auto& resource : resources) {
      auth::AuthzRequest r = base;
      r.action = action;
      r.resource = resource;
      auth::Decision d = user.empty()
                             ? auth::EvaluateIdentityPolicies(policies, r)
                             : c.api.iam->Decide(user, r);
      const char* verdict = d == auth::Decision::kAllow  ? "allowed"
                            : d == auth::Decision::kDeny ? "explicitDeny"
                                                         : "implicitDeny";
      results += "<member>" + El("EvalActionName", action) +
                 El("EvalResourceName", resource) +
                 El("EvalDecision", verdict) +
                 "<MatchedStatements/><MissingContextValues/></member>";
    }
  }
  return Ok(c, "<EvaluationResults>" + results +
                   "</EvaluationResults><IsTruncated>false</IsTruncated>");
}

HttpResponse SimulatePrincipalPolicy(IamCall& c) {
  if (auto m = Missing(c, {"PolicySourceArn"})) return *m;
  std::string arn = Required(c, "PolicySourceArn");
  std::string prefix = "arn:aws:iam::" + c.api.config.api_account_id + ":user/";
  if (arn.rfind(prefix, 0) != 0)
    return Invalid("PolicySourceArn must be a user of this account");
  std::string name = arn.substr(arn.rfind('/') + 1);
  auto policies = c.api.iam->PoliciesFor(name);
  if (!policies.ok()) return Fail(policies.error());
  std::vector<std::string> extra = Members(c.form, "PolicyInputList");
  if (!extra.empty()) {
    // Extra policies: simulate them with the user's own.
    policies->insert(policies->end(), extra.begin(), extra.end());
    return Simulate(c, *policies, "");
  }
  return Simulate(c, {}, name);
}

HttpResponse SimulateCustomPolicy(IamCall& c) {
  std::vector<std::string> policies = Members(c.form, "PolicyInputList");
  if (policies.empty())
    return Invalid("PolicyInputList must hold at least one policy");
  for (const auto& p : policies) {
    if (Status s = auth::ValidateIdentityPolicy(p, 6144); !s.ok())
      return Fail(
          Error::Permanent("MalformedPolicyDocument", s.error().message()));
  }
  return Simulate(c, policies, "");
}

const std::map<std::string, IamHandler>& Routes() {
  static const auto* routes = new std::map<std::string, IamHandler>{
      {"CreateUser", CreateUser},
      {"GetUser", GetUser},
      {"ListUsers", ListUsers},
      {"DeleteUser", DeleteUser},
      {"TagUser", TagUser},
      {"UntagUser", UntagUser},
      {"ListUserTags", ListUserTags},
      {"CreateGroup", CreateGroup},
      {"GetGroup", GetGroup},
      {"ListGroups", ListGroups},
      {"DeleteGroup", DeleteGroup},
      {"AddUserToGroup", AddUserToGroup},
      {"RemoveUserFromGroup", RemoveUserFromGroup},
      {"ListGroupsForUser", ListGroupsForUser},
      {"CreatePolicy", CreatePolicy},
      {"GetPolicy", GetPolicy},
      {"ListPolicies", ListPolicies},
      {"DeletePolicy", DeletePolicy},
      {"CreatePolicyVersion", CreatePolicyVersion},
      {"GetPolicyVersion", GetPolicyVersion},
      {"ListPolicyVersions", ListPolicyVersions},
      {"DeletePolicyVersion", DeletePolicyVersion},
      {"SetDefaultPolicyVersion", SetDefaultPolicyVersion},
      {"AttachUserPolicy", AttachUserPolicy},
      {"DetachUserPolicy", DetachUserPolicy},
      {"AttachGroupPolicy", AttachGroupPolicy},
      {"DetachGroupPolicy", DetachGroupPolicy},
      {"ListAttachedUserPolicies", ListAttachedUserPolicies},
      {"ListAttachedGroupPolicies", ListAttachedGroupPolicies},
      {"PutUserPolicy", PutUserPolicy},
      {"GetUserPolicy", GetUserPolicy},
      {"DeleteUserPolicy", DeleteUserPolicy},
      {"ListUserPolicies", ListUserPolicies},
      {"PutGroupPolicy", PutGroupPolicy},
      {"GetGroupPolicy", GetGroupPolicy},
      {"DeleteGroupPolicy", DeleteGroupPolicy},
      {"ListGroupPolicies", ListGroupPolicies},
      {"CreateAccessKey", CreateAccessKey},
      {"ListAccessKeys", ListAccessKeys},
      {"UpdateAccessKey", UpdateAccessKey},
      {"DeleteAccessKey", DeleteAccessKey},
      {"GetAccessKeyLastUsed", GetAccessKeyLastUsed},
      {"SimulatePrincipalPolicy", SimulatePrincipalPolicy},
      {"SimulateCustomPolicy", SimulateCustomPolicy},
  };
  return *routes;
}

}  // namespace

HttpResponse Api::Impl::Iam(const Caller& caller, const std::string& action,
                            std::map<std::string, std::string>& form) {
  auto it = Routes().find(action);
  if (it == Routes().end() || !iam)
    return V1Error(
        {400, "", "InvalidAction",
         "Could not find operation " + action + " for version 2010-05-08"},
        kIamXmlns);
  IamCall call{{config, iam, keys}, caller, action, form};
  return it->second(call);
}

}  // namespace sesame::api
