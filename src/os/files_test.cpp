#include "os/files.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace drover::os {
namespace {

class DirectoryWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/drover-watch-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    dir_ = root_ + "/home";
    ASSERT_TRUE(MakeDirs(dir_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string root_, dir_;
};

TEST_F(DirectoryWatchTest, QuietWhileTheDirectoryStays) {
  auto watch = DirectoryWatch::Start(dir_);
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/file", "x").ok());
  EXPECT_EQ(watch->Changed(), "");
}

TEST_F(DirectoryWatchTest, NoticesARemovedDirectory) {
  auto watch = DirectoryWatch::Start(dir_);
  ASSERT_TRUE(watch.ok());
  std::filesystem::remove_all(dir_);
  EXPECT_EQ(watch->Changed(), dir_ + " was removed");
  std::filesystem::remove_all(root_);
  EXPECT_EQ(watch->Changed(), dir_ + " was removed") << "its parent gone too";
}

TEST_F(DirectoryWatchTest, NoticesADirectoryMadeAgainAtTheSamePath) {
  auto watch = DirectoryWatch::Start(dir_);
  ASSERT_TRUE(watch.ok());
  std::filesystem::rename(dir_, root_ + "/moved");
  ASSERT_TRUE(MakeDirs(dir_).ok());
  EXPECT_EQ(watch->Changed(), dir_ + " was removed and replaced by another");
}

TEST_F(DirectoryWatchTest, OnlyADirectoryCanBeWatched) {
  EXPECT_FALSE(DirectoryWatch::Start(root_ + "/absent").ok());
  ASSERT_TRUE(WriteFileAtomic(root_ + "/file", "x").ok());
  EXPECT_FALSE(DirectoryWatch::Start(root_ + "/file").ok());
}

}  // namespace
}  // namespace drover::os
