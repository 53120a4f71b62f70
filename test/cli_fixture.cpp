#include "test/cli_fixture.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "os/files.h"
#include "test/harness.h"

namespace drover::testing {

void CliTest::SetUp() {
  char tmpl[] = "/tmp/drover-cli-XXXXXX";
  home_ = ::mkdtemp(tmpl);
  (void)os::MakeDirs(home_ + "/work");
}

void CliTest::TearDown() {
  for (const auto& stack : os::ListDir(home_ + "/stacks")) Drover("down --purge --stack " + stack);
  std::error_code ec;
  std::filesystem::remove_all(home_, ec);
}

Output CliTest::Shell(const std::string& command) {
  std::string cmd = fmt::format("cd {}/work && {} 2>&1", home_, command);
  Output o;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return o;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) o.out.append(buf.data(), n);
  int status = ::pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

Output CliTest::Drover(const std::string& args, const std::string& env) {
  return Shell(fmt::format("DROVER_HOME={} {} {} {}", home_, env, DroverBinary(), args));
}

}  // namespace drover::testing
