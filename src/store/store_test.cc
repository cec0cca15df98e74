#include "store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace sesame::store {
namespace {

TEST(Store, CrudPaginationAndPersistence) {
  std::string path = std::filesystem::temp_directory_path() /
                     ("store_test_" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    auto s = Store::Open(path);
    ASSERT_TRUE(s.ok()) << s.error().message();
    ASSERT_TRUE((*s)->Put("template", "b", "{\"x\":1}", true).ok());
    ASSERT_TRUE((*s)->Put("template", "a", "{\"x\":2}", true).ok());
    auto dup = (*s)->Put("template", "a", "{}", true);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code(), "exists");
    ASSERT_TRUE((*s)->Put("template", "a", "{\"x\":3}", false).ok());
    ASSERT_TRUE((*s)->Put("identity", "a", "{}", true).ok());
    auto page = (*s)->List("template", "", 1);
    ASSERT_EQ(page->size(), 1u);
    EXPECT_EQ((*page)[0].first, "a");
    page = (*s)->List("template", "a", 10);
    ASSERT_EQ(page->size(), 1u);
    EXPECT_EQ((*page)[0].first, "b");
  }
  auto s = Store::Open(path);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(**(*s)->Get("template", "a"), "{\"x\":3}");
  EXPECT_FALSE((*s)->Get("template", "zz")->has_value());
  EXPECT_TRUE(*(*s)->Delete("template", "a"));
  EXPECT_FALSE(*(*s)->Delete("template", "a"));
  EXPECT_EQ((*s)->List("identity", "", 10)->size(), 1u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sesame::store
