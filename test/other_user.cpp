#include "test/other_user.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "os/files.h"
#include "test/harness.h"

namespace drover::testing {

std::string UntraversableDirectory(const std::string& path) {
  std::filesystem::path p = std::filesystem::absolute(path);
  std::string first;
  // From the leaf up, remembering the last one found: the answer is the one nearest the root.
  for (; !p.empty(); p = p.parent_path()) {
    struct stat st;
    if (::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & S_IXOTH) == 0) first = p.string();
    if (p == p.root_path()) break;
  }
  return first;
}

std::string DroverForOtherUsers(const std::string& dir) {
  std::string bin = dir + "/bin", copy = bin + "/drover";
  if (std::string blocked = UntraversableDirectory(dir); !blocked.empty()) {
    ADD_FAILURE() << blocked << " is closed to other users (no o+x): " << copy << " would be out of their reach";
  }
  if (os::Exists(copy)) return copy;
  EXPECT_TRUE(os::MakeDirs(bin, 0755).ok());
  ::chmod(bin.c_str(), 0755);
  std::error_code ec;
  std::filesystem::copy_file(DroverBinary(), copy, std::filesystem::copy_options::overwrite_existing, ec);
  EXPECT_FALSE(ec) << "cannot copy " << DroverBinary() << " to " << copy << ": " << ec.message();
  ::chmod(copy.c_str(), 0755);
  return copy;
}

UserCommandOutput DroverAsUser(const std::string& user, const std::string& dir, const std::string& socket,
                               const std::string& args) {
  // Root enters every directory; anyone else gets the copy.
  std::string drover = user == "root" ? DroverBinary() : DroverForOtherUsers(dir);
  std::string cmd =
      fmt::format("su -s /bin/sh {} -c 'cd /tmp && DROVER_SOCKET={} {} {}' 2>&1", user, socket, drover, args);
  UserCommandOutput o;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  int status = ::pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

}  // namespace drover::testing
