#include "auth/iam.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>
#include <fstream>

#include "auth/policy.h"
#include "base/ids.h"
#include "base/strings.h"

namespace sesame::auth {
namespace json = boost::json;

namespace {

constexpr size_t kMaxPolicyVersions = 5;
constexpr size_t kMaxManagedPolicyBytes = 6144;
constexpr size_t kMaxInlinePolicyBytes = 2048;
constexpr size_t kMaxAttachedPolicies = 10;
constexpr size_t kMaxTags = 50;

Error Iam(const std::string& code, const std::string& message) {
  return Error::Permanent(code, message);
}
Error NoSuch(const std::string& what, const std::string& name) {
  return Iam("NoSuchEntity",
             "The " + what + " with name " + name + " cannot be found.");
}

std::string Str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}
int64_t Int(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_int64() ? v->as_int64() : 0;
}
std::vector<std::string> StrList(const json::object& o, const char* key) {
  std::vector<std::string> out;
  if (auto* v = o.if_contains(key); v && v->is_array()) {
    for (const auto& e : v->as_array()) {
      if (e.is_string()) out.emplace_back(e.as_string());
    }
  }
  return out;
}
std::map<std::string, std::string> StrMap(const json::object& o,
                                          const char* key) {
  std::map<std::string, std::string> out;
  if (auto* v = o.if_contains(key); v && v->is_object()) {
    for (const auto& [k, e] : v->as_object()) {
      if (e.is_string()) out[std::string(k)] = std::string(e.as_string());
    }
  }
  return out;
}
json::array ToJson(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}
json::object ToJson(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

ManagedPolicy Aws(const std::string& name, const std::string& document) {
  ManagedPolicy p;
  p.name = name;
  p.id = "ANPA" + name.substr(0, std::min<size_t>(name.size(), 8));
  p.arn = "arn:aws:iam::aws:policy/" + name;
  p.default_version = "v1";
  p.versions = {{"v1", document, 1420070400}};
  p.created = p.updated = 1420070400;
  p.aws_managed = true;
  return p;
}

std::string Allow(const std::string& actions) {
  return R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":)" +
         actions + R"(,"Resource":"*"}]})";
}

}  // namespace

const std::vector<ManagedPolicy>& AwsManagedPolicies() {
  static const std::vector<ManagedPolicy> kPolicies = {
      Aws("AdministratorAccess", Allow(R"("*")")),
      Aws("AmazonSESFullAccess", Allow(R"(["ses:*"])")),
      Aws("AmazonSESReadOnlyAccess",
          Allow(R"(["ses:Get*","ses:List*","ses:Describe*"])")),
      Aws("AmazonSNSFullAccess", Allow(R"(["sns:*"])")),
      Aws("AmazonSNSReadOnlyAccess", Allow(R"(["sns:Get*","sns:List*"])")),
      Aws("IAMFullAccess", Allow(R"(["iam:*"])")),
      Aws("IAMReadOnlyAccess",
          Allow(R"(["iam:Get*","iam:List*","iam:Simulate*"])")),
  };
  return kPolicies;
}

bool ValidIamName(const std::string& name, size_t max) {
  return !name.empty() && name.size() <= max &&
         name.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
             "qrstuvwxyz0123456789_+=,.@-") == std::string::npos;
}

bool ValidIamPath(const std::string& path) {
  if (path.empty() || path.size() > 512 || path.front() != '/' ||
      path.back() != '/')
    return false;
  return std::all_of(path.begin(), path.end(),
                     [](char c) { return c > 0x20 && c < 0x7f; });
}

namespace {
// ListUsers' and ListGroups' PathPrefix: the entities whose path starts so.
template <typename Entity>
std::vector<Entity> UnderPath(const std::map<std::string, Entity>& all,
                              const std::string& path_prefix) {
  std::vector<Entity> out;
  for (const auto& [name, e] : all) {
    if (e.path.rfind(path_prefix, 0) == 0) out.push_back(e);
  }
  return out;
}
}  // namespace

std::string IamStore::UserArn(const IamUser& u) const {
  return "arn:aws:iam::" + account_ + ":user" + u.path + u.name;
}
std::string IamStore::GroupArn(const IamGroup& g) const {
  return "arn:aws:iam::" + account_ + ":group" + g.path + g.name;
}
std::string IamStore::PolicyArn(const std::string& path,
                                const std::string& name) const {
  return "arn:aws:iam::" + account_ + ":policy" + path + name;
}

std::string IamStore::NewId(const char* prefix) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  unsigned char raw[17];
  RAND_bytes(raw, sizeof raw);
  std::string id = prefix;
  for (unsigned char b : raw) id += kAlphabet[b % 32];
  return id;
}

// --- persistence --------------------------------------------------------

Status IamStore::LoadLocked() {
  auto read = blob_->ReadIfChanged();
  if (!read.ok()) return read.error();
  if (!*read) return Ok{};
  const std::string& text = **read;
  if (text.empty()) {
    users_.clear();
    groups_.clear();
    policies_.clear();
    return Ok{};
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object())
    return Error::Permanent("iam", blob_->Name() + " is not valid JSON");
  std::map<std::string, IamUser> users;
  std::map<std::string, IamGroup> groups;
  std::map<std::string, ManagedPolicy> policies;
  const json::object& root = v.as_object();
  if (auto* a = root.if_contains("users"); a && a->is_array()) {
    for (const auto& e : a->as_array()) {
      if (!e.is_object()) continue;
      const json::object& o = e.as_object();
      IamUser u{Str(o, "name"),
                Str(o, "id"),
                Str(o, "path"),
                Int(o, "created"),
                {},
                StrMap(o, "inline"),
                StrList(o, "attached"),
                StrList(o, "groups")};
      if (auto* t = o.if_contains("tags"); t && t->is_array()) {
        for (const auto& pair : t->as_array()) {
          auto kv = pair.is_array() ? pair.as_array() : json::array{};
          if (kv.size() == 2 && kv[0].is_string() && kv[1].is_string())
            u.tags.emplace_back(kv[0].as_string(), kv[1].as_string());
        }
      }
      users[u.name] = std::move(u);
    }
  }
  if (auto* a = root.if_contains("groups"); a && a->is_array()) {
    for (const auto& e : a->as_array()) {
      if (!e.is_object()) continue;
      const json::object& o = e.as_object();
      IamGroup g{Str(o, "name"),      Str(o, "id"),
                 Str(o, "path"),      Int(o, "created"),
                 StrMap(o, "inline"), StrList(o, "attached")};
      groups[g.name] = std::move(g);
    }
  }
  if (auto* a = root.if_contains("policies"); a && a->is_array()) {
    for (const auto& e : a->as_array()) {
      if (!e.is_object()) continue;
      const json::object& o = e.as_object();
      ManagedPolicy p;
      p.name = Str(o, "name");
      p.id = Str(o, "id");
      p.path = Str(o, "path");
      p.arn = Str(o, "arn");
      p.description = Str(o, "description");
      p.created = Int(o, "created");
      p.updated = Int(o, "updated");
      p.default_version = Str(o, "default_version");
      p.next_version = static_cast<int>(Int(o, "next_version"));
      if (auto* vs = o.if_contains("versions"); vs && vs->is_array()) {
        for (const auto& ve : vs->as_array()) {
          if (!ve.is_object()) continue;
          const json::object& vo = ve.as_object();
          p.versions.push_back(
              {Str(vo, "id"), Str(vo, "document"), Int(vo, "created")});
        }
      }
      policies[p.arn] = std::move(p);
    }
  }
  users_ = std::move(users);
  groups_ = std::move(groups);
  policies_ = std::move(policies);
  return Ok{};
}

Status IamStore::SaveLocked() {
  json::array users, groups, policies;
  for (const auto& [name, u] : users_) {
    json::array tags;
    for (const auto& [k, v] : u.tags) tags.push_back(json::array{k, v});
    users.push_back(json::object{{"name", u.name},
                                 {"id", u.id},
                                 {"path", u.path},
                                 {"created", u.created},
                                 {"tags", tags},
                                 {"inline", ToJson(u.inline_policies)},
                                 {"attached", ToJson(u.attached)},
                                 {"groups", ToJson(u.groups)}});
  }
  for (const auto& [name, g] : groups_) {
    groups.push_back(json::object{{"name", g.name},
                                  {"id", g.id},
                                  {"path", g.path},
                                  {"created", g.created},
                                  {"inline", ToJson(g.inline_policies)},
                                  {"attached", ToJson(g.attached)}});
  }
  for (const auto& [arn, p] : policies_) {
    json::array versions;
    for (const auto& v : p.versions)
      versions.push_back(json::object{
          {"id", v.id}, {"document", v.document}, {"created", v.created}});
    policies.push_back(json::object{{"name", p.name},
                                    {"id", p.id},
                                    {"path", p.path},
                                    {"arn", p.arn},
                                    {"description", p.description},
                                    {"created", p.created},
                                    {"updated", p.updated},
                                    {"default_version", p.default_version},
                                    {"next_version", p.next_version},
                                    {"versions", versions}});
  }
  std::string text =
      json::serialize(json::object{
          {"users", users}, {"groups", groups}, {"policies", policies}}) +
      "\n";
  return blob_->Write(text);
}

IamUser* IamStore::UserLocked(const std::string& name) {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
}
IamGroup* IamStore::GroupLocked(const std::string& name) {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}
ManagedPolicy* IamStore::PolicyLocked(const std::string& arn) {
  auto it = policies_.find(arn);
  return it == policies_.end() ? nullptr : &it->second;
}

std::map<std::string, std::string>* IamStore::InlineLocked(
    const std::string& kind, const std::string& name) {
  if (kind == "user") {
    IamUser* u = UserLocked(name);
    return u ? &u->inline_policies : nullptr;
  }
  IamGroup* g = GroupLocked(name);
  return g ? &g->inline_policies : nullptr;
}

std::vector<std::string>* IamStore::AttachedLocked(const std::string& kind,
                                                   const std::string& name) {
  if (kind == "user") {
    IamUser* u = UserLocked(name);
    return u ? &u->attached : nullptr;
  }
  IamGroup* g = GroupLocked(name);
  return g ? &g->attached : nullptr;
}

// --- users --------------------------------------------------------------

Result<IamUser> IamStore::CreateUser(const std::string& name,
                                     const std::string& path,
                                     const Tags& tags) {
  if (!ValidIamName(name))
    return Iam("ValidationError",
               "The specified value for userName is invalid. It must contain "
               "only alphanumeric characters and/or the following: +=,.@_-");
  if (!ValidIamPath(path))
    return Iam("ValidationError",
               "The specified value for path is invalid. It must begin and "
               "end with / and contain only alphanumeric characters and/or / "
               "characters.");
  if (tags.size() > kMaxTags)
    return Iam("LimitExceeded", "A user may have at most 50 tags.");
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  for (const auto& [existing, u] : users_) {
    if (AsciiLowerCopy(existing) == AsciiLowerCopy(name))
      return Iam("EntityAlreadyExists",
                 "User with name " + name + " already exists.");
  }
  IamUser u{name, NewId("AIDA"), path, NowMillis() / 1000, tags, {}, {}, {}};
  users_[name] = u;
  if (Status s = SaveLocked(); !s.ok()) return s.error();
  return u;
}

Result<IamUser> IamStore::GetUser(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  IamUser* u = UserLocked(name);
  if (!u) return NoSuch("user", name);
  return *u;
}

Result<std::vector<IamUser>> IamStore::ListUsers(
    const std::string& path_prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  return UnderPath(users_, path_prefix);
}

Status IamStore::DeleteUser(const std::string& name, bool has_keys) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  IamUser* u = UserLocked(name);
  if (!u) return NoSuch("user", name);
  if (has_keys)
    return Iam("DeleteConflict",
               "Cannot delete entity, must delete access keys first.");
  if (!u->inline_policies.empty() || !u->attached.empty())
    return Iam("DeleteConflict",
               "Cannot delete entity, must delete policies first.");
  if (!u->groups.empty())
    return Iam("DeleteConflict",
               "Cannot delete entity, must remove users from group first.");
  users_.erase(name);
  return SaveLocked();
}

Status IamStore::TagUser(const std::string& name, const Tags& tags) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  IamUser* u = UserLocked(name);
  if (!u) return NoSuch("user", name);
  for (const auto& [k, v] : tags) {
    auto it = std::find_if(u->tags.begin(), u->tags.end(),
                           [&](const auto& t) { return t.first == k; });
    if (it != u->tags.end()) {
      it->second = v;
    } else {
      u->tags.emplace_back(k, v);
    }
  }
  if (u->tags.size() > kMaxTags)
    return Iam("LimitExceeded", "A user may have at most 50 tags.");
  return SaveLocked();
}

Status IamStore::UntagUser(const std::string& name,
                           const std::vector<std::string>& keys) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  IamUser* u = UserLocked(name);
  if (!u) return NoSuch("user", name);
  std::erase_if(u->tags, [&](const auto& t) {
    return std::find(keys.begin(), keys.end(), t.first) != keys.end();
  });
  return SaveLocked();
}

// --- groups -------------------------------------------------------------

Result<IamGroup> IamStore::CreateGroup(const std::string& name,
                                       const std::string& path) {
  if (!ValidIamName(name, 128))
    return Iam("ValidationError",
               "The specified value for groupName is invalid.");
  if (!ValidIamPath(path))
    return Iam("ValidationError", "The specified value for path is invalid.");
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  if (GroupLocked(name))
    return Iam("EntityAlreadyExists",
               "Group with name " + name + " already exists.");
  IamGroup g{name, NewId("AGPA"), path, NowMillis() / 1000, {}, {}};
  groups_[name] = g;
  if (Status s = SaveLocked(); !s.ok()) return s.error();
  return g;
}

Result<IamGroup> IamStore::GetGroup(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  IamGroup* g = GroupLocked(name);
  if (!g) return NoSuch("group", name);
  return *g;
}

Result<std::vector<IamGroup>> IamStore::ListGroups(
    const std::string& path_prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  return UnderPath(groups_, path_prefix);
}

Status IamStore::DeleteGroup(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  IamGroup* g = GroupLocked(name);
  if (!g) return NoSuch("group", name);
  for (const auto& [user, u] : users_) {
    if (std::find(u.groups.begin(), u.groups.end(), name) != u.groups.end())
      return Iam("DeleteConflict",
                 "Cannot delete entity, must remove users from group first.");
  }
  if (!g->inline_policies.empty() || !g->attached.empty())
    return Iam("DeleteConflict",
               "Cannot delete entity, must delete policies first.");
  groups_.erase(name);
  return SaveLocked();
}

Status IamStore::AddUserToGroup(const std::string& group,
                                const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  if (!GroupLocked(group)) return NoSuch("group", group);
  IamUser* u = UserLocked(user);
  if (!u) return NoSuch("user", user);
  if (std::find(u->groups.begin(), u->groups.end(), group) != u->groups.end())
    return Ok{};
  if (u->groups.size() >= 10)
    return Iam("LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10");
  u->groups.push_back(group);
  return SaveLocked();
}

Status IamStore::RemoveUserFromGroup(const std::string& group,
                                     const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  if (!GroupLocked(group)) return NoSuch("group", group);
  IamUser* u = UserLocked(user);
  if (!u) return NoSuch("user", user);
  auto it = std::find(u->groups.begin(), u->groups.end(), group);
  if (it == u->groups.end())
    return Iam("NoSuchEntity", "The user with name " + user +
                                   " is not in group " + group + ".");
  u->groups.erase(it);
  return SaveLocked();
}

Result<std::vector<std::string>> IamStore::GroupMembers(
    const std::string& group) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  if (!GroupLocked(group)) return NoSuch("group", group);
  std::vector<std::string> out;
  for (const auto& [name, u] : users_) {
    if (std::find(u.groups.begin(), u.groups.end(), group) != u.groups.end())
      out.push_back(name);
  }
  return out;
}

// --- managed policies ---------------------------------------------------

Result<ManagedPolicy> IamStore::CreatePolicy(const std::string& name,
                                             const std::string& path,
                                             const std::string& document,
                                             const std::string& description) {
  if (!ValidIamName(name, 128))
    return Iam("ValidationError",
               "The specified value for policyName is invalid.");
  if (!ValidIamPath(path))
    return Iam("ValidationError", "The specified value for path is invalid.");
  if (Status s = ValidateIdentityPolicy(document, kMaxManagedPolicyBytes);
      !s.ok())
    return Iam("MalformedPolicyDocument", s.error().message());
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  std::string arn = PolicyArn(path, name);
  for (const auto& [a, p] : policies_) {
    if (p.name == name)
      return Iam("EntityAlreadyExists", "A policy called " + name +
                                            " already exists. Duplicate "
                                            "names are not allowed.");
  }
  int64_t now = NowMillis() / 1000;
  ManagedPolicy p;
  p.name = name;
  p.id = NewId("ANPA");
  p.path = path;
  p.arn = arn;
  p.description = description;
  p.created = p.updated = now;
  p.default_version = "v1";
  p.versions = {{"v1", document, now}};
  p.next_version = 2;
  policies_[arn] = p;
  if (Status s = SaveLocked(); !s.ok()) return s.error();
  return p;
}

Result<ManagedPolicy> IamStore::GetPolicy(const std::string& arn) {
  for (const auto& p : AwsManagedPolicies()) {
    if (p.arn == arn) return p;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  ManagedPolicy* p = PolicyLocked(arn);
  if (!p)
    return Iam("NoSuchEntity",
               "Policy " + arn + " does not exist or is not attachable.");
  return *p;
}

Result<std::vector<ManagedPolicy>> IamStore::ListPolicies(
    const std::string& scope, bool only_attached) {
  std::vector<ManagedPolicy> all;
  if (scope != "Local") all = AwsManagedPolicies();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status s = LoadLocked(); !s.ok()) return s.error();
    if (scope != "AWS") {
      for (const auto& [arn, p] : policies_) all.push_back(p);
    }
  }
  if (only_attached)
    std::erase_if(all, [this](const ManagedPolicy& p) {
      return AttachmentCount(p.arn) == 0;
    });
  return all;
}

int IamStore::AttachmentCount(const std::string& arn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!LoadLocked().ok()) return 0;
  int n = 0;
  for (const auto& [name, u] : users_)
    n += std::count(u.attached.begin(), u.attached.end(), arn);
  for (const auto& [name, g] : groups_)
    n += std::count(g.attached.begin(), g.attached.end(), arn);
  return n;
}

Status IamStore::DeletePolicy(const std::string& arn) {
  if (arn.rfind("arn:aws:iam::aws:", 0) == 0)
    return Iam("InvalidInput", "An AWS managed policy cannot be deleted.");
  if (AttachmentCount(arn) > 0)
    return Iam("DeleteConflict",
               "Cannot delete a policy attached to entities.");
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  ManagedPolicy* p = PolicyLocked(arn);
  if (!p) return Iam("NoSuchEntity", "Policy " + arn + " does not exist.");
  if (p->versions.size() > 1)
    return Iam("DeleteConflict",
               "This policy has more than one version. Before you delete a "
               "policy, you must delete the policy's versions. The default "
               "version is deleted with the policy.");
  policies_.erase(arn);
  return SaveLocked();
}

Result<PolicyVersion> IamStore::CreatePolicyVersion(const std::string& arn,
                                                    const std::string& document,
                                                    bool set_default) {
  if (Status s = ValidateIdentityPolicy(document, kMaxManagedPolicyBytes);
      !s.ok())
    return Iam("MalformedPolicyDocument", s.error().message());
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  ManagedPolicy* p = PolicyLocked(arn);
  if (!p) return Iam("NoSuchEntity", "Policy " + arn + " does not exist.");
  if (p->versions.size() >= kMaxPolicyVersions)
    return Iam("LimitExceeded",
               "A managed policy can have up to 5 versions. Before you "
               "create a new version, you must delete an existing version.");
  int64_t now = NowMillis() / 1000;
  PolicyVersion v{"v" + std::to_string(p->next_version++), document, now};
  p->versions.push_back(v);
  if (set_default) p->default_version = v.id;
  p->updated = now;
  if (Status s = SaveLocked(); !s.ok()) return s.error();
  return v;
}

Result<PolicyVersion> IamStore::GetPolicyVersion(const std::string& arn,
                                                 const std::string& version) {
  auto p = GetPolicy(arn);
  if (!p.ok()) return p.error();
  for (const auto& v : p->versions) {
    if (v.id == version) return v;
  }
  return Iam("NoSuchEntity", "Policy " + arn + " version " + version +
                                 " does not exist or is not attachable.");
}

Status IamStore::DeletePolicyVersion(const std::string& arn,
                                     const std::string& version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  ManagedPolicy* p = PolicyLocked(arn);
  if (!p) return Iam("NoSuchEntity", "Policy " + arn + " does not exist.");
  if (version == p->default_version)
    return Iam("DeleteConflict",
               "Cannot delete the default version of a policy.");
  size_t before = p->versions.size();
  std::erase_if(p->versions,
                [&](const PolicyVersion& v) { return v.id == version; });
  if (p->versions.size() == before)
    return Iam("NoSuchEntity",
               "Policy " + arn + " version " + version + " does not exist.");
  return SaveLocked();
}

Status IamStore::SetDefaultPolicyVersion(const std::string& arn,
                                         const std::string& version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  ManagedPolicy* p = PolicyLocked(arn);
  if (!p) return Iam("NoSuchEntity", "Policy " + arn + " does not exist.");
  bool found =
      std::any_of(p->versions.begin(), p->versions.end(),
                  [&](const PolicyVersion& v) { return v.id == version; });
  if (!found)
    return Iam("NoSuchEntity",
               "Policy " + arn + " version " + version + " does not exist.");
  p->default_version = version;
  p->updated = NowMillis() / 1000;
  return SaveLocked();
}

// --- attachments and inline policies -------------------------------------

Status IamStore::Attach(const std::string& kind, const std::string& name,
                        const std::string& arn) {
  if (auto p = GetPolicy(arn); !p.ok()) return p.error();
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  auto* list = AttachedLocked(kind, name);
  if (!list) return NoSuch(kind, name);
  if (std::find(list->begin(), list->end(), arn) != list->end()) return Ok{};
  if (list->size() >= kMaxAttachedPolicies)
    return Iam("LimitExceeded",
               "Cannot exceed quota for PoliciesPer" +
                   std::string(kind == "user" ? "User" : "Group") + ": 10");
  list->push_back(arn);
  return SaveLocked();
}

Status IamStore::Detach(const std::string& kind, const std::string& name,
                        const std::string& arn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  auto* list = AttachedLocked(kind, name);
  if (!list) return NoSuch(kind, name);
  auto it = std::find(list->begin(), list->end(), arn);
  if (it == list->end())
    return Iam("NoSuchEntity", "Policy " + arn + " was not found.");
  list->erase(it);
  return SaveLocked();
}

Status IamStore::PutInline(const std::string& kind, const std::string& name,
                           const std::string& policy,
                           const std::string& document) {
  if (!ValidIamName(policy, 128))
    return Iam("ValidationError",
               "The specified value for policyName is invalid.");
  if (Status s = ValidateIdentityPolicy(document, kMaxInlinePolicyBytes);
      !s.ok())
    return Iam("MalformedPolicyDocument", s.error().message());
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  auto* m = InlineLocked(kind, name);
  if (!m) return NoSuch(kind, name);
  (*m)[policy] = document;
  return SaveLocked();
}

Result<std::string> IamStore::GetInline(const std::string& kind,
                                        const std::string& name,
                                        const std::string& policy) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  const auto* m = InlineLocked(kind, name);
  if (!m) return NoSuch(kind, name);
  auto it = m->find(policy);
  if (it == m->end())
    return Iam("NoSuchEntity", "The " + kind + " policy with name " + policy +
                                   " cannot be found.");
  return it->second;
}

Status IamStore::DeleteInline(const std::string& kind, const std::string& name,
                              const std::string& policy) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Status s = LoadLocked(); !s.ok()) return s.error();
  auto* m = InlineLocked(kind, name);
  if (!m) return NoSuch(kind, name);
  if (m->erase(policy) == 0)
    return Iam("NoSuchEntity", "The " + kind + " policy with name " + policy +
                                   " cannot be found.");
  return SaveLocked();
}

Result<std::vector<std::string>> IamStore::PoliciesFor(
    const std::string& user) {
  std::vector<std::string> attached, docs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status s = LoadLocked(); !s.ok()) return s.error();
    IamUser* u = UserLocked(user);
    if (!u) return NoSuch("user", user);
    for (const auto& [n, d] : u->inline_policies) docs.push_back(d);
    attached = u->attached;
    for (const auto& gname : u->groups) {
      IamGroup* g = GroupLocked(gname);
      if (!g) continue;
      for (const auto& [n, d] : g->inline_policies) docs.push_back(d);
      attached.insert(attached.end(), g->attached.begin(), g->attached.end());
    }
  }
  for (const auto& arn : attached) {
    auto p = GetPolicy(arn);
    if (!p.ok()) continue;
    if (const PolicyVersion* v = p->Default()) docs.push_back(v->document);
  }
  return docs;
}

Decision IamStore::Decide(const std::string& user, AuthzRequest request,
                          const std::vector<std::string>& resource_policies) {
  auto u = GetUser(user);
  auto docs = PoliciesFor(user);
  if (!u.ok() || !docs.ok()) return Decision::kDeny;
  auto& ctx = request.context;
  ctx["aws:username"] = {u->name};
  ctx["aws:userid"] = {u->id};
  ctx["aws:PrincipalArn"] = {UserArn(*u)};
  ctx["aws:PrincipalAccount"] = {account_};
  ctx["aws:PrincipalType"] = {"User"};
  for (const auto& [k, v] : u->tags) ctx["aws:PrincipalTag/" + k] = {v};
  int64_t now = NowMillis() / 1000;
  if (!ctx.count("aws:CurrentTime")) {
    char buf[32];
    std::time_t t = now;
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ctx["aws:CurrentTime"] = {buf};
  }
  ctx["aws:EpochTime"] = {std::to_string(now)};
  Decision identity = EvaluateIdentityPolicies(*docs, request);
  Decision resource = resource_policies.empty()
                          ? Decision::kNotApplicable
                          : Evaluate(resource_policies, request);
  return Combine(identity, resource);
}

std::string DeniedMessage(const std::string& principal_arn,
                          const std::string& action,
                          const std::string& resource) {
  return "User: " + principal_arn + " is not authorized to perform: " + action +
         " on resource: " + resource;
}

}  // namespace sesame::auth
