#include "store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "store/snapshot_store.h"

namespace sesame::store {
namespace {

std::string TempPath(const char* tag) {
  std::string path = std::filesystem::temp_directory_path() /
                     (std::string("store_test_") + tag + "_" +
                      std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  return path;
}

using Opener = std::function<std::unique_ptr<Store>(const std::string&)>;

std::unique_ptr<Store> OpenSqlite(const std::string& path) {
  auto s = Store::Open(path);
  return s.ok() ? std::move(*s) : nullptr;
}
std::unique_ptr<Store> OpenSnapshot(const std::string& path) {
  auto s = Store::Open(path);
  if (!s.ok()) return nullptr;
  auto w = SnapshotStore::Wrap(std::move(*s), {"template", "identity"});
  return w.ok() ? std::move(*w) : nullptr;
}

// The same contract for the backend and the snapshot in front of it.
class StoreContract : public ::testing::TestWithParam<Opener> {};

TEST_P(StoreContract, CrudPaginationAndPersistence) {
  std::string path = TempPath("contract");
  {
    auto s = GetParam()(path);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->Put("template", "b", "{\"x\":1}", true).ok());
    ASSERT_TRUE(s->Put("template", "a", "{\"x\":2}", true).ok());
    auto dup = s->Put("template", "a", "{}", true);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code(), "exists");
    ASSERT_TRUE(s->Put("template", "a", "{\"x\":3}", false).ok());
    ASSERT_TRUE(s->Put("identity", "a", "{}", true).ok());
    ASSERT_TRUE(s->Put("suppressed", "x@y.example", "{}", true).ok());
    auto page = s->List("template", "", 1);
    ASSERT_EQ(page->size(), 1u);
    EXPECT_EQ((*page)[0].first, "a");
    page = s->List("template", "a", 10);
    ASSERT_EQ(page->size(), 1u);
    EXPECT_EQ((*page)[0].first, "b");
    EXPECT_EQ(**s->Get("template", "a"), "{\"x\":3}");
  }
  auto s = GetParam()(path);
  ASSERT_TRUE(s);
  EXPECT_EQ(**s->Get("template", "a"), "{\"x\":3}");
  EXPECT_FALSE(s->Get("template", "zz")->has_value());
  EXPECT_TRUE(s->Get("suppressed", "x@y.example")->has_value());
  EXPECT_TRUE(*s->Delete("template", "a"));
  EXPECT_FALSE(*s->Delete("template", "a"));
  EXPECT_FALSE(s->Get("template", "a")->has_value());
  EXPECT_EQ(s->List("identity", "", 10)->size(), 1u);
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract,
                         ::testing::Values(Opener(OpenSqlite),
                                           Opener(OpenSnapshot)));

// A backend that counts reads and can be made to fail writes.
class FakeBackend : public Store {
 public:
  int reads = 0;
  bool fail_writes = false;
  std::map<std::string, std::string> docs;  // kind/name -> json
  Result<std::optional<std::string>> Get(const std::string& k,
                                         const std::string& n) override {
    ++reads;
    auto it = docs.find(k + "/" + n);
    if (it == docs.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status Put(const std::string& k, const std::string& n, const std::string& j,
             bool) override {
    if (fail_writes) return Error::Transient("store", "disk full");
    docs[k + "/" + n] = j;
    return Ok{};
  }
  Result<bool> Delete(const std::string& k, const std::string& n) override {
    if (fail_writes) return Error::Transient("store", "disk full");
    return docs.erase(k + "/" + n) > 0;
  }
  Result<std::vector<std::pair<std::string, std::string>>> List(
      const std::string& k, const std::string&, size_t) override {
    ++reads;
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& [key, v] : docs)
      if (key.rfind(k + "/", 0) == 0)
        out.emplace_back(key.substr(k.size() + 1), v);
    return out;
  }
};

TEST(SnapshotStore, HotKindsAreServedFromMemoryAndFollowDurableWrites) {
  auto fake = std::make_unique<FakeBackend>();
  FakeBackend* backend = fake.get();
  backend->docs["account/sending"] = "{\"SendingEnabled\":true}";
  auto s = SnapshotStore::Wrap(std::move(fake), {"account"});
  ASSERT_TRUE(s.ok());
  int loaded = backend->reads;
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(**(*s)->Get("account", "sending"), "{\"SendingEnabled\":true}");
  EXPECT_EQ(backend->reads, loaded);  // no backend read per send
  ASSERT_TRUE(
      (*s)->Put("account", "sending", "{\"SendingEnabled\":false}", false)
          .ok());
  EXPECT_EQ(**(*s)->Get("account", "sending"), "{\"SendingEnabled\":false}");
  // A write the backend refuses changes nothing in the snapshot.
  backend->fail_writes = true;
  EXPECT_FALSE((*s)->Put("account", "sending", "{}", false).ok());
  EXPECT_FALSE((*s)->Delete("account", "sending").ok());
  EXPECT_EQ(**(*s)->Get("account", "sending"), "{\"SendingEnabled\":false}");
  // Other kinds pass through.
  (void)(*s)->Get("suppressed", "a@b.example");
  EXPECT_EQ(backend->reads, loaded + 1);
}

}  // namespace
}  // namespace sesame::store
