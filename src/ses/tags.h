#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ses/documents.h"

namespace sesame::ses {

// Resource tags (TagResource, UntagResource, ListTagsForResource), by
// resource ARN, kept in the state store (kind "tags"). Owned by Resources;
// thread-safe (the store is).
class Tags {
 public:
  explicit Tags(store::Store* store) : store_(store) {}

  Result<std::map<std::string, std::string>> Get(const std::string& arn);
  // Adds or replaces; "invalid" for an empty key.
  Status Tag(const std::string& arn,
             const std::vector<std::pair<std::string, std::string>>& tags);
  Status Untag(const std::string& arn, const std::vector<std::string>& keys);

 private:
  Status Save(const std::string& arn,
              const std::map<std::string, std::string>& tags);

  store::Store* store_;
};

}  // namespace sesame::ses
