#include "os/daemon.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "os/files.h"

namespace drover::os {
namespace {

// A daemon does not keep the caller's directory: a user it switches to may not be able to enter it.
TEST(SpawnDaemonTest, TheDaemonRunsInTheRootDirectory) {
  char tmpl[] = "/tmp/drover-daemon-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string caller_dir = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  auto pid = SpawnDaemon({"/bin/sh", "-c", "pwd"}, dir + "/daemon.log", dir + "/daemon.pid");
  std::filesystem::current_path(caller_dir);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  std::string out;
  for (int i = 0; i < 500 && out.empty(); ++i) {
    auto text = ReadFile(dir + "/daemon.log");
    if (text.ok()) out = *text;
    if (out.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(out, "/\n");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace drover::os
