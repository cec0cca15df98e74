// Unit tests of the SES resource classes over an in-memory store::Store.

#include "ses/resources.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace sesame::ses {
namespace {

// store::Store in a map: enough for one module's unit tests.
class MapStore : public store::Store {
 public:
  Result<std::optional<std::string>> Get(const std::string& kind,
                                         const std::string& name) override {
    if (fail) return Error::Transient("store", "down");
    auto it = docs.find({kind, name});
    if (it == docs.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status Put(const std::string& kind, const std::string& name,
             const std::string& doc, bool create_only) override {
    if (fail) return Error::Transient("store", "down");
    if (create_only && docs.count({kind, name}))
      return Error::Permanent("exists", name + " exists");
    docs[{kind, name}] = doc;
    return Ok{};
  }
  Result<bool> Delete(const std::string& kind,
                      const std::string& name) override {
    if (fail) return Error::Transient("store", "down");
    return docs.erase({kind, name}) > 0;
  }
  Result<std::vector<std::pair<std::string, std::string>>> List(
      const std::string& kind, const std::string& after,
      size_t limit) override {
    if (fail) return Error::Transient("store", "down");
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = docs.upper_bound({kind, after});
         it != docs.end() && it->first.first == kind && out.size() < limit;
         ++it)
      out.emplace_back(it->first.second, it->second);
    return out;
  }

  std::map<std::pair<std::string, std::string>, std::string> docs;
  bool fail = false;
};

Template T(std::string name, std::string subject, std::string text = "",
           std::string html = "") {
  return Template{std::move(name), std::move(subject), std::move(text),
                  std::move(html), 0};
}

class ResourcesTest : public ::testing::Test {
 protected:
  MapStore store;
  Resources r{&store, /*auto_verify=*/false, /*dkim=*/nullptr};
};

TEST_F(ResourcesTest, TemplatesHaveTypedResults) {
  Templates& t = r.templates();
  EXPECT_EQ(t.Get("welcome").error().code(), "not_found");
  ASSERT_TRUE(
      t.Create(T("welcome", "Hi {{name}}", "text", "<p>html</p>")).ok());
  EXPECT_EQ(t.Create(T("welcome", "again")).error().code(), "exists");
  EXPECT_EQ(t.Create(T("../etc", "x")).error().code(), "invalid");
  auto got = t.Get("welcome");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->subject, "Hi {{name}}");
  EXPECT_EQ(got->html, "<p>html</p>");
  int64_t created = got->created;
  EXPECT_GT(created, 0);
  ASSERT_TRUE(t.Update(T("welcome", "New")).ok());
  EXPECT_EQ(t.Get("welcome")->subject, "New");
  EXPECT_EQ(t.Get("welcome")->created, created);  // an update keeps it
  EXPECT_EQ(t.Update(T("absent", "x")).error().code(), "not_found");
  ASSERT_TRUE(t.Delete("welcome").ok());
  EXPECT_EQ(t.Delete("welcome").error().code(), "not_found");
}

TEST_F(ResourcesTest, ListingsPageWithACursor) {
  for (const char* n : {"a", "b", "c", "d", "e"})
    ASSERT_TRUE(r.templates().Create(T(n, "s")).ok());
  auto first = r.templates().List("", 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 2u);
  EXPECT_EQ(first->items[1].name, "b");
  EXPECT_EQ(first->next, "b");
  auto last = r.templates().List("d", 2);
  ASSERT_EQ(last->items.size(), 1u);
  EXPECT_EQ(last->next, "");  // the end
  EXPECT_EQ(r.templates().Names().size(), 5u);
  store.fail = true;
  EXPECT_TRUE(r.templates().List("", 2).error().transient());
}

TEST_F(ResourcesTest, CorruptDocumentsReadAsMissingFieldsNotExceptions) {
  store.docs[{"template", "t"}] = "{not json";
  store.docs[{"identity", "a@example.com"}] = "[1,2]";
  store.docs[{"configuration-set", "cs"}] = "\"text\"";
  EXPECT_EQ(r.templates().Get("t")->subject, "");
  auto id = r.identities().Get("a@example.com");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->verification_status, "");
  EXPECT_FALSE(r.identities().Verified("a@example.com"));
  EXPECT_TRUE(r.configuration_sets().SendingEnabled("cs"));
  EXPECT_TRUE(r.configuration_sets().SnsDestinations("cs").empty());
}

TEST_F(ResourcesTest, ConfigurationSetsAndDestinations) {
  ConfigurationSets& cs = r.configuration_sets();
  boost::json::object bad{{"DeliveryOptions", {{"MaxDeliverySeconds", 10}}}};
  EXPECT_EQ(cs.Create("s", bad).error().code(), "invalid");
  ASSERT_TRUE(cs.Create("s", {}).ok());
  EXPECT_EQ(cs.Create("s", {}).error().code(), "exists");
  boost::json::object sns{
      {"Enabled", true},
      {"MatchingEventTypes", {"BOUNCE", "COMPLAINT"}},
      {"SnsDestination", {{"TopicArn", "arn:aws:sns:us-east-1:1:t"}}}};
  ASSERT_TRUE(cs.AddDestination("s", "d1", sns).ok());
  EXPECT_EQ(cs.AddDestination("s", "d1", sns).error().code(), "exists");
  EXPECT_EQ(cs.AddDestination("absent", "d1", sns).error().code(), "not_found");
  auto dests = cs.SnsDestinations("s");
  ASSERT_EQ(dests.size(), 1u);
  EXPECT_EQ(dests[0].topic_arn, "arn:aws:sns:us-east-1:1:t");
  EXPECT_EQ(dests[0].event_types.size(), 2u);
  sns["Enabled"] = false;
  ASSERT_TRUE(cs.UpdateDestination("s", "d1", sns).ok());
  EXPECT_TRUE(cs.SnsDestinations("s").empty());
  EXPECT_EQ(cs.DeleteDestination("s", "d2").error().code(), "not_found");
  ASSERT_TRUE(cs.DeleteDestination("s", "d1").ok());
  EXPECT_TRUE(cs.Get("s")->destinations.empty());
}

TEST_F(ResourcesTest, PausingConfigurationSets) {
  ConfigurationSets& cs = r.configuration_sets();
  EXPECT_EQ(cs.SetSendingEnabled("file-set", false).error().code(),
            "not_found");
  cs.SetConfigFileSets({"file-set"});
  ASSERT_TRUE(cs.SetSendingEnabled("file-set", false).ok());
  EXPECT_FALSE(cs.SendingEnabled("file-set"));
  ASSERT_TRUE(cs.SetSendingEnabled("file-set", true).ok());
  EXPECT_TRUE(cs.SendingEnabled("file-set"));
  ASSERT_TRUE(cs.Create("s", {}).ok());
  ASSERT_TRUE(cs.SetSendingEnabled("s", false).ok());
  EXPECT_FALSE(cs.SendingEnabled("s"));
  // Deleting the set lifts its pause: a set made again with the name sends.
  ASSERT_TRUE(cs.Delete("s").ok());
  ASSERT_TRUE(cs.Create("s", {}).ok());
  EXPECT_TRUE(cs.SendingEnabled("s"));
}

TEST_F(ResourcesTest, AccountSending) {
  EXPECT_TRUE(r.account().SendingEnabled());  // no document: enabled
  ASSERT_TRUE(r.account().SetSendingEnabled(false).ok());
  EXPECT_FALSE(r.account().SendingEnabled());
  ASSERT_TRUE(r.account().SetSendingEnabled(true).ok());
  EXPECT_TRUE(r.account().SendingEnabled());
  store.docs[{"account", "sending"}] = R"({"SendingEnabled":"no"})";
  EXPECT_TRUE(r.account().SendingEnabled());  // not a boolean: the default
}

TEST_F(ResourcesTest, SuppressionReasonsComeFromTheSetElseTheAccount) {
  SuppressionList& list = r.suppression();
  EXPECT_EQ(list.ReasonsFor("").size(), 2u);  // SES's default: both
  ASSERT_TRUE(r.account().SetSuppressedReasons({"COMPLAINT"}).ok());
  EXPECT_EQ(r.account().SetSuppressedReasons({"SPAM"}).error().code(),
            "invalid");
  EXPECT_EQ(*list.AddAutomatic("x@example.com", "BOUNCE", "", "m1", ""), false);
  EXPECT_FALSE(list.Contains("x@example.com"));
  ASSERT_TRUE(r.configuration_sets()
                  .Create("s", {{"SuppressionOptions",
                                 {{"SuppressedReasons", {"BOUNCE"}}}}})
                  .ok());
  EXPECT_EQ(*list.AddAutomatic("X@example.com", "BOUNCE", "s", "m1", "f1"),
            true);
  EXPECT_EQ(*list.AddAutomatic("x@example.com", "BOUNCE", "s", "m2", ""),
            false);  // refreshed, not new
  auto entry = list.Get("x@EXAMPLE.com");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->message_id, "m2");
  EXPECT_TRUE(list.ContainsFor("x@example.com", "s"));
  EXPECT_FALSE(list.ContainsFor("x@example.com", ""));  // account: COMPLAINT
  EXPECT_EQ(list.Put("", "BOUNCE").error().code(), "invalid");
  EXPECT_EQ(list.Put("y@example.com", "OTHER").error().code(), "invalid");
  ASSERT_TRUE(list.Put("y@example.com", "COMPLAINT").ok());
  auto found = list.Search("y@", "", 10);
  ASSERT_EQ(found->items.size(), 1u);
  EXPECT_EQ(found->items[0].reason, "COMPLAINT");
  ASSERT_TRUE(list.Delete("y@example.com").ok());
  EXPECT_EQ(list.Delete("y@example.com").error().code(), "not_found");
}

TEST_F(ResourcesTest, IdentitiesAndParentDomains) {
  Identities& ids = r.identities();
  ASSERT_TRUE(ids.Create("example.com").ok());
  EXPECT_EQ(ids.Create("example.com").error().code(), "exists");
  EXPECT_TRUE(ids.Add("example.com").ok());  // v1: idempotent
  EXPECT_EQ(ids.Add("not an identity").error().code(), "invalid");
  EXPECT_EQ(ids.Get("example.com")->verification_status, "PENDING");
  EXPECT_EQ(ids.Get("example.com")->type, "DOMAIN");
  EXPECT_FALSE(ids.Verified("a@mail.example.com"));
  store.docs[{"identity", "example.com"}] =
      R"({"IdentityType":"DOMAIN","VerificationStatus":"SUCCESS"})";
  EXPECT_TRUE(ids.Verified("a@mail.example.com"));
  EXPECT_EQ(ids.IdentityFor("A@Mail.Example.com"), "example.com");
  EXPECT_EQ(ids.SetMailFrom("example.com", "other.org", "").error().code(),
            "invalid");
  ASSERT_TRUE(
      ids.SetMailFrom("example.com", "bounce.example.com", "REJECT_MESSAGE")
          .ok());
  MailFrom mf = ids.MailFromFor("a@example.com");
  EXPECT_EQ(mf.domain, "bounce.example.com");
  EXPECT_TRUE(mf.reject_on_failure);
  EXPECT_FALSE(mf.verified);
  EXPECT_TRUE(ids.IsMailFromDomain("bounce.example.com"));
  EXPECT_EQ(ids.Get("absent.org").error().code(), "not_found");
  ASSERT_TRUE(ids.Delete("example.com").ok());
  EXPECT_TRUE(ids.Delete("example.com").ok());  // SES: absent is fine
}

TEST_F(ResourcesTest, TagsAndPools) {
  const std::string arn = "arn:aws:ses:us-east-1:1:configuration-set/s";
  ASSERT_TRUE(r.tags().Tag(arn, {{"team", "a"}, {"env", "prod"}}).ok());
  EXPECT_EQ(r.tags().Tag(arn, {{"", "x"}}).error().code(), "invalid");
  ASSERT_TRUE(r.tags().Untag(arn, {"team"}).ok());
  auto tags = r.tags().Get(arn);
  ASSERT_EQ(tags->size(), 1u);
  EXPECT_EQ(tags->at("env"), "prod");
  ASSERT_TRUE(r.ip_pools().Create(IpPool{"pool", ""}).ok());
  EXPECT_EQ(r.ip_pools().Get("pool")->scaling_mode, "STANDARD");
  EXPECT_EQ(r.ip_pools().Create(IpPool{"pool", ""}).error().code(), "exists");
  EXPECT_EQ(r.ip_pools().Create(IpPool{"p2", "HUGE"}).error().code(),
            "invalid");
  ASSERT_TRUE(r.ip_pools().Delete("pool").ok());
  EXPECT_EQ(r.ip_pools().Delete("pool").error().code(), "not_found");
}

}  // namespace
}  // namespace sesame::ses
