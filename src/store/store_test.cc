#include "store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "store/name_filter.h"
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

// A shared backend whose other nodes' changes the test announces.
class SharedFake : public FakeBackend {
 public:
  bool Shared() const override { return true; }
  void Announce(Change c) {
    std::lock_guard<std::mutex> lock(mu);
    changes.push_back(std::move(c));
    cv.notify_all();
  }
  Result<std::vector<Change>> WaitChanges(int timeout_ms) override {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                [this] { return !changes.empty(); });
    std::vector<Change> out;
    out.swap(changes);
    return out;
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Change> changes;
};

TEST(SnapshotStore, FilteredKindsAskTheBackendOnlyAboutNamesThatMayBeThere) {
  auto fake = std::make_unique<SharedFake>();
  SharedFake* backend = fake.get();
  backend->docs["suppressed/old@x.example"] = "{}";
  auto s = SnapshotStore::Wrap(std::move(fake), {"account"}, {"suppressed"});
  ASSERT_TRUE(s.ok());
  int loaded = backend->reads;
  // 1,000 recipients not on the list: at most a false positive or two.
  for (int i = 0; i < 1000; ++i)
    EXPECT_FALSE((*s)->Get("suppressed", "r" + std::to_string(i) + "@x.example")
                     ->has_value());
  EXPECT_LE(backend->reads - loaded, 2);
  EXPECT_TRUE((*s)->Get("suppressed", "old@x.example")->has_value());
  // A local write is found at once.
  ASSERT_TRUE((*s)->Put("suppressed", "new@x.example", "{}", false).ok());
  EXPECT_TRUE((*s)->Get("suppressed", "new@x.example")->has_value());
  // Another node's write: found once its change is announced.
  backend->docs["suppressed/far@x.example"] = "{}";
  EXPECT_FALSE((*s)->Get("suppressed", "far@x.example")->has_value());
  backend->Announce({"suppressed", "far@x.example"});
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    seen = (*s)->Get("suppressed", "far@x.example")->has_value();
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(seen);
  // Generation counts changes to cached kinds only.
  uint64_t g = (*s)->Generation();
  backend->Announce({"stats-minute", "x"});
  backend->Announce({"account", "sending"});
  for (int i = 0; i < 100 && (*s)->Generation() == g; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ((*s)->Generation(), g + 1);
}

TEST(NameFilter, NoFalseNegativesAndFewFalsePositives) {
  NameFilter f(10000);
  for (int i = 0; i < 10000; ++i) f.Insert("in" + std::to_string(i));
  for (int i = 0; i < 10000; ++i)
    ASSERT_TRUE(f.MayContain("in" + std::to_string(i)));
  int false_positives = 0;
  for (int i = 0; i < 100000; ++i)
    false_positives += f.MayContain("out" + std::to_string(i));
  EXPECT_LT(false_positives, 100);  // under 0.1 %
}

}  // namespace
}  // namespace sesame::store
