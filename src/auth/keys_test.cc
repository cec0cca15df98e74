#include "auth/keys.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sesame::auth {
namespace {

namespace fs = std::filesystem;

TEST(Seal, RoundTripAndTamper) {
  std::string key(32, 'k');
  auto sealed = Seal(key, "secret value");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find("secret"), std::string::npos);
  EXPECT_EQ(*Open(key, *sealed), "secret value");
  EXPECT_FALSE(Open(std::string(32, 'x'), *sealed).ok());
  std::string bad = *sealed;
  bad[20] = bad[20] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(Open(key, bad).ok());
}

TEST(MasterKeyFile, CurrentNextAndEarlierKeys) {
  fs::path dir =
      fs::temp_directory_path() / ("master_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string path = (dir / "master.key").string();
  MasterKeyFile f{
      std::string(32, 'c'), {std::string(32, 'n')}, {std::string(32, 'e')}};
  ASSERT_TRUE(WriteMasterKeyFile(path, f).ok());
  auto back = ReadMasterKeyFile(path);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->current, f.current);
  EXPECT_EQ(back->next, f.next);
  EXPECT_EQ(back->earlier, f.earlier);
  // Sealing uses the current key; every key of the ring opens.
  EXPECT_EQ(*LoadMasterKey(path, false), f.current);
  MasterRing ring = *LoadMasterKeys(path, false);
  ASSERT_EQ(ring.size(), 3u);
  for (const auto& k : ring) EXPECT_EQ(*OpenWithAny(ring, *Seal(k, "s")), "s");
  EXPECT_FALSE(OpenWithAny(ring, *Seal(std::string(32, 'x'), "s")).ok());
  // A one-line file of earlier releases reads as the current key alone.
  std::ofstream(path) << "  \n";
  EXPECT_FALSE(ReadMasterKeyFile(path).ok());
  ASSERT_TRUE(WriteMasterKeyFile(path, {std::string(32, 'c'), {}, {}}).ok());
  EXPECT_EQ(LoadMasterKeys(path, false)->size(), 1u);
  // A key store re-seals under the current key and still opens after the
  // earlier key is dropped.
  std::string keys = (dir / "keys").string();
  KeyStore store(keys, path);
  auto k = store.Create();
  ASSERT_TRUE(k.ok());
  ASSERT_TRUE(
      WriteMasterKeyFile(path, {std::string(32, 'd'), {}, {f.current}}).ok());
  EXPECT_EQ(store.Lookup(k->id), k->secret);
  EXPECT_EQ(*store.Reseal(), 1);
  ASSERT_TRUE(WriteMasterKeyFile(path, {std::string(32, 'd'), {}, {}}).ok());
  EXPECT_EQ(KeyStore(keys, path).Lookup(k->id), k->secret);
  EXPECT_EQ(store.Lookup(k->id), k->secret);
  fs::remove_all(dir);
}

TEST(KeyStore, CreateListLookupDeleteAcrossInstances) {
  fs::path dir =
      fs::temp_directory_path() / ("keys_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string keys = (dir / "keys").string(),
              master = (dir / "master.key").string();
  KeyStore a(keys, master);
  auto k = a.Create();
  ASSERT_TRUE(k.ok()) << k.error().message();
  EXPECT_EQ(k->id.size(), 20u);
  EXPECT_EQ(k->id.substr(0, 4), "AKIA");
  EXPECT_EQ(k->secret.size(), 40u);
  // A second instance (another process, e.g. the server) sees it.
  KeyStore b(keys, master);
  EXPECT_EQ(b.Lookup(k->id), k->secret);
  EXPECT_EQ(b.Lookup("AKIANOPE"), std::nullopt);
  // The keys file alone does not reveal the secret.
  std::ifstream f(keys);
  std::string text((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(text.find(k->secret), std::string::npos);
  EXPECT_NE(text.find(k->id), std::string::npos);
  // Without the master key file, nothing decrypts.
  KeyStore c(keys, (dir / "other.key").string());
  EXPECT_EQ(c.Lookup(k->id), std::nullopt);
  EXPECT_EQ(a.List()->size(), 1u);
  EXPECT_TRUE(*b.Delete(k->id));
  EXPECT_FALSE(*b.Delete(k->id));
  EXPECT_EQ(a.Lookup(k->id), std::nullopt);
  // A delegate key remembers its account and user; bad accounts are refused.
  auto d = a.Create("123456789012", "app");
  ASSERT_TRUE(d.ok()) << d.error().message();
  KeyStore e(keys, master);
  EXPECT_EQ(e.AccountOf(d->id),
            std::make_pair(std::string("123456789012"), std::string("app")));
  EXPECT_EQ(e.Lookup(d->id), d->secret);
  EXPECT_EQ((*e.List())[0].account, "123456789012");
  EXPECT_FALSE(a.Create("12345").ok());
  EXPECT_FALSE(a.Create("", "bad name").ok());
  // An IAM user's key of this account: made inactive, it stops at once for
  // every reader of the file; its last use survives a reload.
  auto u = a.Create("", "ci");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(e.AccountOf(u->id),
            std::make_pair(std::string(), std::string("ci")));
  a.Touch(u->id, "ses", "us-east-1");
  ASSERT_TRUE(*a.SetActive(u->id, false));
  EXPECT_EQ(e.Lookup(u->id), std::nullopt);
  auto seen = e.Get(u->id);
  ASSERT_TRUE(seen.has_value());
  EXPECT_FALSE(seen->active);
  EXPECT_EQ(seen->last_service, "ses");
  EXPECT_GT(seen->last_used, 0);
  ASSERT_TRUE(*e.SetActive(u->id, true));
  EXPECT_EQ(a.Lookup(u->id), u->secret);
  EXPECT_FALSE(*a.SetActive("AKIANOSUCHKEY", true));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sesame::auth
