#include "cli/option_checks.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cli/job_options.h"

namespace drover::cli {
namespace {

// What `drover submit ARGS` answers when parsing fails ("" when it parses).
std::string SubmitError(std::vector<std::string> args) {
  CLI::App app("submit");
  JobOptions o;
  AddJobOptions(app, o);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

TEST(OptionChecksTest, RangeErrorsNameTheLongFlagAndTheRule) {
  EXPECT_EQ(SubmitError({"-c", "-1"}), "--cpus-per-task must be a whole number of at least 1, not '-1'");
  EXPECT_EQ(SubmitError({"-c", "0"}), "--cpus-per-task must be a whole number of at least 1, not '0'");
  EXPECT_EQ(SubmitError({"-n", "-3"}), "--ntasks must be a whole number of at least 1, not '-3'");
  EXPECT_EQ(SubmitError({"--priority", "4001"}), "--priority must be a whole number from 0 to 4000, not '4001'");
  EXPECT_EQ(SubmitError({"--retries", "-1"}), "--retries must be a whole number of at least 0, not '-1'");
  EXPECT_EQ(SubmitError({"--gpus", "-2"}), "--gpus must be a whole number of at least 0, not '-2'");
  EXPECT_EQ(SubmitError({"-N", "0"}), "--nodes must be a whole number of at least 1, not '0'");
  EXPECT_EQ(SubmitError({"--ntasks-per-node", "0"}), "--ntasks-per-node must be a whole number of at least 1, not '0'");
}

TEST(OptionChecksTest, TextThatIsNoWholeNumberGetsTheSameSentence) {
  for (const char* text : {"abc", "1.5", "2x", "", " 3", "+-1", "0x10", "1e3"}) {
    EXPECT_EQ(SubmitError({"--cpus-per-task", text}),
              std::string("--cpus-per-task must be a whole number of at least 1, not '") + text + "'")
        << text;
  }
  EXPECT_EQ(SubmitError({"-c", "99999999999999999999"}), "--cpus-per-task '99999999999999999999' is too large");
  EXPECT_EQ(SubmitError({"-c", "2147483648"}), "--cpus-per-task '2147483648' is too large");
}

TEST(OptionChecksTest, ValuesInRangeParse) {
  EXPECT_EQ(SubmitError({"-c", "4", "-n", "+2", "--priority", "0", "--retries", "0", "--gpus", "0"}), "");
  EXPECT_EQ(SubmitError({"--priority", "4000", "-N", "2", "--ntasks-per-node", "1"}), "");
}

TEST(OptionChecksTest, AnyOptionCanUseIt) {
  CLI::App app("test");
  std::optional<int> port;
  WholeNumber(app.add_option("--port", port, "Port"), 0, 65535);
  std::vector<std::string> args = {"70000", "--port"};  // CLI11 takes them last first
  try {
    app.parse(args);
    FAIL() << "70000 was accepted";
  } catch (const OptionValueError& e) {
    EXPECT_STREQ(e.what(), "--port must be a whole number from 0 to 65535, not '70000'");
    EXPECT_EQ(e.get_exit_code(), static_cast<int>(CLI::ExitCodes::ValidationError));
  }
  EXPECT_EQ(CheckWholeNumber("-x", "7", 1, 7), "");
  EXPECT_EQ(CheckWholeNumber("-x", "8", 1, 7), "-x must be a whole number from 1 to 7, not '8'");
  EXPECT_EQ(WholeNumberRule(1, std::nullopt), "must be a whole number of at least 1");
}

}  // namespace
}  // namespace drover::cli
