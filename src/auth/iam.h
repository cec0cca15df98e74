#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/policy.h"
#include "base/blob.h"
#include "base/result.h"

namespace sesame::auth {

using Tags = std::vector<std::pair<std::string, std::string>>;

struct IamUser {
  std::string name, id, path = "/";
  int64_t created = 0;  // epoch seconds
  Tags tags;
  std::map<std::string, std::string> inline_policies;  // name -> document
  std::vector<std::string> attached;                   // policy ARNs
  std::vector<std::string> groups;                     // group names
};

struct IamGroup {
  std::string name, id, path = "/";
  int64_t created = 0;
  std::map<std::string, std::string> inline_policies;
  std::vector<std::string> attached;
};

struct PolicyVersion {
  std::string id;  // "v1", "v2", ...
  std::string document;
  int64_t created = 0;
};

struct ManagedPolicy {
  std::string name, id, path = "/", arn, description;
  int64_t created = 0, updated = 0;
  std::string default_version;
  std::vector<PolicyVersion> versions;
  int next_version = 1;
  bool aws_managed = false;  // arn:aws:iam::aws:policy/..., read-only
  const PolicyVersion* Default() const {
    for (const auto& v : versions) {
      if (v.id == default_version) return &v;
    }
    return nullptr;
  }
};

// IAM's users, groups and customer managed policies for the one account,
// kept as one JSON Blob: `<data_dir>/iam.json` on one node, the shared
// store's row on a cluster. Every change replaces it whole and every read
// reloads it when it changed, so `sesame iam …` works offline or beside a
// running server and several processes (or nodes) see one state. Access keys
// stay in the KeyStore (their secrets sealed); this store holds who they belong
// to.
//
// Errors carry IAM's codes (NoSuchEntity, EntityAlreadyExists,
// DeleteConflict, LimitExceeded, MalformedPolicyDocument, InvalidInput,
// ValidationError) and messages, for the Query API to answer with.
//
// Owned by the app or the CLI. Thread-safe: one mutex (IAM changes are rare;
// the request path reads under it, a file stat per read).
class IamStore {
 public:
  IamStore(std::string path, std::string account)
      : IamStore(FileBlob(std::move(path)), std::move(account)) {}
  IamStore(std::unique_ptr<Blob> blob, std::string account)
      : blob_(std::move(blob)), account_(std::move(account)) {}

  std::string UserArn(const IamUser& u) const;
  std::string GroupArn(const IamGroup& g) const;
  std::string PolicyArn(const std::string& path, const std::string& name) const;

  Result<IamUser> CreateUser(const std::string& name, const std::string& path,
                             const Tags& tags);
  Result<IamUser> GetUser(const std::string& name);
  Result<std::vector<IamUser>> ListUsers(const std::string& path_prefix);
  // Refused (DeleteConflict) while the user has keys, policies or groups,
  // as IAM does; `has_keys` is the KeyStore's answer.
  Status DeleteUser(const std::string& name, bool has_keys);
  Status TagUser(const std::string& name, const Tags& tags);
  Status UntagUser(const std::string& name,
                   const std::vector<std::string>& keys);

  Result<IamGroup> CreateGroup(const std::string& name,
                               const std::string& path);
  Result<IamGroup> GetGroup(const std::string& name);
  Result<std::vector<IamGroup>> ListGroups(const std::string& path_prefix);
  Status DeleteGroup(const std::string& name);
  Status AddUserToGroup(const std::string& group, const std::string& user);
  Status RemoveUserFromGroup(const std::string& group, const std::string& user);
  Result<std::vector<std::string>> GroupMembers(const std::string& group);

  Result<ManagedPolicy> CreatePolicy(const std::string& name,
                                     const std::string& path,
                                     const std::string& document,
                                     const std::string& description);
  Result<ManagedPolicy> GetPolicy(const std::string& arn);
  // scope: "All", "AWS" or "Local"; only_attached: with an attachment.
  Result<std::vector<ManagedPolicy>> ListPolicies(const std::string& scope,
                                                  bool only_attached);
  Status DeletePolicy(const std::string& arn);
  Result<PolicyVersion> CreatePolicyVersion(const std::string& arn,
                                            const std::string& document,
                                            bool set_default);
  Result<PolicyVersion> GetPolicyVersion(const std::string& arn,
                                         const std::string& version);
  Status DeletePolicyVersion(const std::string& arn,
                             const std::string& version);
  Status SetDefaultPolicyVersion(const std::string& arn,
                                 const std::string& version);
  // How many users and groups a policy is attached to.
  int AttachmentCount(const std::string& arn);

  // kind: "user" or "group".
  Status Attach(const std::string& kind, const std::string& name,
                const std::string& arn);
  Status Detach(const std::string& kind, const std::string& name,
                const std::string& arn);
  Status PutInline(const std::string& kind, const std::string& name,
                   const std::string& policy, const std::string& document);
  Result<std::string> GetInline(const std::string& kind,
                                const std::string& name,
                                const std::string& policy);
  Status DeleteInline(const std::string& kind, const std::string& name,
                      const std::string& policy);

  // Every policy document that applies to `user`: its inline and attached
  // policies and its groups' (default versions). NoSuchEntity when the user
  // does not exist.
  Result<std::vector<std::string>> PoliciesFor(const std::string& user);

  // May IAM user `user` do `request`? Adds the principal's context
  // (aws:username, aws:userid, aws:PrincipalArn, aws:PrincipalAccount,
  // aws:PrincipalType, aws:PrincipalTag/<key>) and the time, then evaluates
  // the user's policies with `resource_policies` (a resource's own, such as
  // an identity's sending authorization) under IAM's same-account logic.
  // A user that does not exist is denied.
  Decision Decide(const std::string& user, AuthzRequest request,
                  const std::vector<std::string>& resource_policies = {});

 private:
  Status LoadLocked();
  Status SaveLocked();
  IamUser* UserLocked(const std::string& name);
  IamGroup* GroupLocked(const std::string& name);
  ManagedPolicy* PolicyLocked(const std::string& arn);
  // A user's or group's ("user"/"group") inline or attached policies.
  std::map<std::string, std::string>* InlineLocked(const std::string& kind,
                                                   const std::string& name);
  std::vector<std::string>* AttachedLocked(const std::string& kind,
                                           const std::string& name);
  std::string NewId(const char* prefix);

  std::unique_ptr<Blob> blob_;
  const std::string account_;
  std::mutex mu_;
  std::map<std::string, IamUser> users_;
  std::map<std::string, IamGroup> groups_;
  std::map<std::string, ManagedPolicy> policies_;  // by ARN (customer)
};

// IAM's denial: "User: ARN is not authorized to perform: ACTION on
// resource: ARN".
std::string DeniedMessage(const std::string& principal_arn,
                          const std::string& action,
                          const std::string& resource);

// The AWS managed policies Sesame knows (AdministratorAccess,
// AmazonSESFullAccess, AmazonSESReadOnlyAccess, AmazonSNSFullAccess,
// AmazonSNSReadOnlyAccess, IAMFullAccess, IAMReadOnlyAccess).
const std::vector<ManagedPolicy>& AwsManagedPolicies();

// IAM's name rules: users and groups [\w+=,.@-]{1,64} (policies 128), paths
// "/" or "/…/" of printable ASCII up to 512.
bool ValidIamName(const std::string& name, size_t max = 64);
bool ValidIamPath(const std::string& path);

}  // namespace sesame::auth
