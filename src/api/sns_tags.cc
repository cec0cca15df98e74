// SNS's tag operations on topics (TagResource, UntagResource,
// ListTagsForResource). Topics live in the event publisher; their tags live
// with the account's other tags (ses::Tags, keyed by ARN), so the API
// answers these itself and asks the publisher only whether the topic exists.
#include "api/impl.h"

namespace sesame::api {
namespace {

// SNS's limits on tags: at most 50 per resource, keys of 1-128 and values of
// 0-256 characters.
constexpr size_t kMaxTags = 50, kMaxKey = 128, kMaxValue = 256;

ApiError SnsInvalid(const std::string& m) {
  return {400, "", "InvalidParameter", m};
}

}  // namespace

const Router<Api::Impl::V1Handler>& Api::Impl::SnsRoutes() {
  static const Router<V1Handler> routes = [] {
    Router<V1Handler> r;
    r.Action("TagResource", true, &Impl::SnsTags, {"ResourceArn", "Tags"});
    r.Action("UntagResource", true, &Impl::SnsTags, {"ResourceArn", "TagKeys"});
    r.Action("ListTagsForResource", true, &Impl::SnsTags, {"ResourceArn"});
    return r;
  }();
  return routes;
}

void Api::Impl::SnsTags(V1Call& c) {
  const std::string& arn = c.form["ResourceArn"];
  if (arn.empty())
    return c.done(V1Error(SnsInvalid("Invalid parameter: ResourceArn")));
  if (!services.topic_exists || !services.topic_exists(arn))
    return c.done(
        V1Error({404, "", "ResourceNotFound", "Resource does not exist"}));
  auto current = resources.tags().Get(arn);
  if (!current.ok())
    return c.done(V1Error(StoreError(current.error(), "", "")));
  if (c.action == "ListTagsForResource") {
    std::string xml = "\n    <Tags>";
    for (const auto& [k, v] : *current)
      xml += "\n      <member><Key>" + XmlEscape(k) + "</Key><Value>" +
             XmlEscape(v) + "</Value></member>";
    return c.done(V1Ok(c.action, xml + "\n    </Tags>\n  "));
  }
  Status s = Ok{};
  if (c.action == "UntagResource") {
    auto keys = Members(c.form, "TagKeys");
    if (keys.empty())
      return c.done(V1Error(SnsInvalid("Invalid parameter: TagKeys")));
    s = resources.tags().Untag(arn, keys);
  } else {
    std::vector<std::pair<std::string, std::string>> tags;
    for (int i = 1;; ++i) {
      std::string p = "Tags.member." + std::to_string(i) + ".";
      auto key = c.form.find(p + "Key");
      if (key == c.form.end()) break;
      const std::string& value = c.form[p + "Value"];
      if (key->second.empty() || key->second.size() > kMaxKey)
        return c.done(V1Error(SnsInvalid(
            "Invalid parameter: Tags: a key must have 1 to 128 characters")));
      if (value.size() > kMaxValue)
        return c.done(V1Error(
            SnsInvalid("Invalid parameter: Tags: a value may have at most 256 "
                       "characters")));
      tags.emplace_back(key->second, value);
      (*current)[key->second] = value;
    }
    if (tags.empty())
      return c.done(V1Error(SnsInvalid("Invalid parameter: Tags")));
    if (current->size() > kMaxTags)
      return c.done(
          V1Error({400, "", "TagLimitExceeded",
                   "Could not complete request: tag quota of per resource "
                   "exceeded"}));
    s = resources.tags().Tag(arn, tags);
  }
  if (!s.ok()) return c.done(V1Error(StoreError(s.error(), "", "")));
  c.done(V1Ok(c.action, ""));
}

}  // namespace sesame::api
