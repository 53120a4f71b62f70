// A fixture for tests that run the `drover` command as a user does, in a throw-away DROVER_HOME.
#pragma once

#include <string>

#include <gtest/gtest.h>

namespace drover::testing {

struct Output {
  int code = -1;
  std::string out;  // stdout and stderr together
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Takes down every stack the test left (purging its data) and removes DROVER_HOME.
  void TearDown() override;

  // Runs `drover <args>` in home_/work with DROVER_HOME=home_ and `env` (VAR=value ...) set.
  Output Drover(const std::string& args, const std::string& env = "");
  // Runs a shell command line in home_/work.
  Output Shell(const std::string& command);

  std::string home_;
};

}  // namespace drover::testing
