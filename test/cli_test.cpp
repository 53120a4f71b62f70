// The command line as a user runs it: `drover up` brings up the default local cluster, the job
// commands work against it without flags, `up` again changes nothing, a killed head node is replaced,
// `down` keeps the jobs.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "os/daemon.h"
#include "os/files.h"
#include "test/cli_fixture.h"
#include "test/harness.h"
#include "test/test_util.h"

namespace drover::testing {
namespace {

using Cli = CliTest;

TEST_F(Cli, UpRunSubmitQueueDownUpAgain) {
  auto up = Drover("up --nodes 2 --cores 2");
  ASSERT_EQ(up.code, 0) << up.out;
  EXPECT_NE(up.out.find("2/2 nodes Online"), std::string::npos) << up.out;

  auto again = Drover("up");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("no changes: 5 resources up to date"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("starting"), std::string::npos) << "a second up must start nothing: " << again.out;

  auto run = Drover("run -- sh -c 'echo out-line; echo err-line >&2; exit 3'");
  EXPECT_EQ(run.code, 3) << run.out;
  EXPECT_NE(run.out.find("out-line"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("err-line"), std::string::npos) << run.out;

  // A batch script: #DROVER lines are read like #SBATCH lines; the command line wins.
  std::string script = home_ + "/work/job.sh";
  ASSERT_TRUE(os::WriteFileAtomic(script,
                                  "#!/bin/sh\n#DROVER -J from-script\n#DROVER --array 1-3\n#DROVER -o script.%a\n"
                                  "echo index $DROVER_TASK_INDEX of job $DROVER_JOB_ID\n",
                                  0755)
                  .ok());
  auto submitted = Drover("submit -o 'cli.%a' job.sh");
  ASSERT_EQ(submitted.code, 0) << submitted.out;
  std::string id = submitted.out.substr(0, submitted.out.find('\n'));
  ASSERT_TRUE(TestCluster::Eventually([&] { return Drover("job show " + id).out.find("Finished") != std::string::npos; },
                                      20000));
  auto show = Drover("job show " + id);
  EXPECT_NE(show.out.find("from-script"), std::string::npos) << show.out;
  for (int i = 1; i <= 3; ++i) {
    auto lines = ReadLines(fmt::format("{}/work/cli.{}", home_, i));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], fmt::format("index {} of job {}", i, id));
  }

  auto nodes = Drover("nodes");
  EXPECT_NE(nodes.out.find("compute-001"), std::string::npos) << nodes.out;
  EXPECT_NE(nodes.out.find("Online"), std::string::npos);
  auto queue_json = Drover("queue --all --json");
  EXPECT_EQ(queue_json.code, 0);
  EXPECT_NE(queue_json.out.find("\"jobs\""), std::string::npos);

  auto bad = Drover("submit --array 5-1 -- true");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("end is before the start"), std::string::npos) << bad.out;

  // kill -9 the head node: the stack's supervisor replaces it (new instance, new address, same
  // name), with no human step, and the jobs are still there.
  pid_t head = os::RunningDaemon(home_ + "/stacks/local/instances/head-001/daemon.pid", "headnode");
  ASSERT_GT(head, 0);
  ::kill(head, SIGKILL);
  ASSERT_TRUE(TestCluster::Eventually([&] { return ::kill(head, 0) != 0; }, 5000));
  ASSERT_TRUE(TestCluster::Eventually(
      [&] { return Drover("job show " + id).out.find("Finished") != std::string::npos; }, 60000))
      << Drover("status").out;
  EXPECT_NE(Drover("status").out.find("replaced head-001 by head-002"), std::string::npos) << Drover("status").out;
  auto after = Drover("up");
  ASSERT_EQ(after.code, 0) << after.out;
  EXPECT_NE(after.out.find("no changes"), std::string::npos) << after.out;

  // A member's credential, written by `member add`, used through DROVER_CREDENTIALS.
  auto added = Drover("member add alice --role User --out " + home_ + "/alice-creds");
  ASSERT_EQ(added.code, 0) << added.out;
  EXPECT_TRUE(os::Exists(home_ + "/alice-creds/client.key"));
  auto as_alice = [&](const std::string& args) { return Drover(args, "DROVER_CREDENTIALS=" + home_ + "/alice-creds"); };
  auto alice_queue = as_alice("queue --all");
  EXPECT_EQ(alice_queue.code, 0) << alice_queue.out;
  EXPECT_EQ(alice_queue.out.find("from-script"), std::string::npos) << "a User sees only their own jobs";
  auto alice_members = as_alice("member list");
  EXPECT_NE(alice_members.code, 0);
  EXPECT_NE(alice_members.out.find("needs the Administrator role"), std::string::npos) << alice_members.out;
  ASSERT_EQ(Drover("member remove alice").code, 0);
  auto revoked = as_alice("queue");
  EXPECT_NE(revoked.code, 0);
  EXPECT_NE(revoked.out.find("revoked"), std::string::npos) << revoked.out;

  ASSERT_EQ(Drover("down").code, 0);
  EXPECT_NE(Drover("queue").code, 0) << "nothing answers after down";
  auto reup = Drover("up");
  ASSERT_EQ(reup.code, 0) << reup.out;
  EXPECT_NE(reup.out.find("attached the existing stores"), std::string::npos) << reup.out;
  EXPECT_NE(Drover("job show " + id).out.find("from-script"), std::string::npos) << "the database was reattached";
}

}  // namespace
}  // namespace drover::testing

namespace drover::testing {
namespace {

// Everything a secret could leak into: files under the cluster's directories (state, databases,
// logs), and the command lines and environments of Drover's processes.
std::vector<std::string> PlacesHolding(const std::string& needle, const std::vector<std::string>& roots) {
  std::vector<std::string> found;
  for (const auto& root : roots) {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      auto text = os::ReadFile(it->path().string());
      if (text.ok() && text->find(needle) != std::string::npos) found.push_back(it->path().string());
    }
  }
  for (const auto& pid : os::ListDir("/proc")) {
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = os::ReadFile("/proc/" + pid + "/cmdline");
    if (!cmdline.ok() || cmdline->find("drover") == std::string::npos) continue;
    for (const char* what : {"cmdline", "environ"}) {
      auto text = os::ReadFile("/proc/" + pid + "/" + what);
      if (text.ok() && text->find(needle) != std::string::npos) found.push_back("/proc/" + pid + "/" + what);
    }
  }
  return found;
}

TEST_F(Cli, SecretsNeverAppearInPlaintext) {
  std::string token = fmt::format("planted-join-token-{}-{}", ::getpid(), ::time(nullptr));
  std::string password = fmt::format("planted-password-{}-{}", ::getpid(), ::time(nullptr));
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/in", token).ok());
  ASSERT_EQ(Drover("secret --local put /drover/stacks/local/join-token < " + home_ + "/in").code, 0);
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/in", password).ok());
  ASSERT_EQ(Drover("secret --local put /app/db-password < " + home_ + "/in").code, 0);
  (void)os::RemoveFile(home_ + "/in");

  // The cluster comes up with the planted token (the nodes join with it) and runs work.
  auto up = Drover("up --nodes 2 --cores 2");
  ASSERT_EQ(up.code, 0) << up.out;
  EXPECT_EQ(Drover("run -n 2 -- sh -c 'echo ran'").code, 0);
  EXPECT_EQ(Drover("secret --local get /drover/stacks/local/join-token").out, token);
  auto over_api = Drover("secret get /drover/stacks/local/join-token");
  EXPECT_NE(over_api.code, 0);
  EXPECT_NE(over_api.out.find("one of Drover's own secrets"), std::string::npos) << over_api.out;
  EXPECT_EQ(over_api.out.find(token), std::string::npos);
  // Written through the head node: audited by name, never by value.
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/in", password + "-v2").ok());
  ASSERT_EQ(Drover("secret put /app/db-password < " + home_ + "/in").code, 0);
  (void)os::RemoveFile(home_ + "/in");
  EXPECT_EQ(Drover("secret get /app/db-password --version 1").out, password);
  auto audit = Drover("audit");
  EXPECT_NE(audit.out.find("secret.put"), std::string::npos) << audit.out;
  EXPECT_EQ(audit.out.find(password), std::string::npos);
  auto list = Drover("secret list");
  EXPECT_NE(list.out.find("/drover/stacks/local/cluster-ca/private-key"), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(token), std::string::npos);
  auto bad = Drover("secret get /app/db-password --version 9");
  EXPECT_NE(bad.code, 0);
  EXPECT_EQ(bad.out.find(password), std::string::npos) << "an error must not carry the value";

  for (const auto& needle : {token, password}) {
    EXPECT_EQ(PlacesHolding(needle, {home_}), std::vector<std::string>{}) << "leaked: " << needle;
  }
  // The CA's private key is not in any file either: only in the store, encrypted.
  std::string head_state = home_ + "/stacks/local/resources/HeadNode/state";
  ASSERT_TRUE(os::Exists(head_state + "/pki/ca.crt"));
  EXPECT_FALSE(os::Exists(head_state + "/pki/ca.key"));
  EXPECT_FALSE(os::Exists(head_state + "/join-token"));
}

// Every process on the machine whose command line or environment holds `needle`.
std::vector<std::string> ProcessesHolding(const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& pid : os::ListDir("/proc")) {
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    for (const char* what : {"cmdline", "environ"}) {
      auto text = os::ReadFile("/proc/" + pid + "/" + what);
      if (text.ok() && text->find(needle) != std::string::npos) {
        auto cmdline = os::ReadFile("/proc/" + pid + "/cmdline");
        std::string shown = cmdline.ok() ? *cmdline : "";
        std::replace(shown.begin(), shown.end(), '\0', ' ');
        found.push_back("/proc/" + pid + "/" + what + " (" + shown.substr(0, 120) + ")");
      }
    }
  }
  return found;
}

// While a boot script that uses a secret runs, the secret is on no command line and in no
// environment of any process, nor afterwards in any file of the stack.
TEST_F(Cli, BootScriptSecretsStayOffCommandLinesWhileTheyRun) {
  std::string password = fmt::format("boot-password-{}-{}", ::getpid(), ::time(nullptr));
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/in", password).ok());
  ASSERT_EQ(Drover("secret --local put /app/boot-password < " + home_ + "/in").code, 0);
  (void)os::RemoveFile(home_ + "/in");
  auto local = os::ReadFile(std::string(DROVER_SOURCE_DIR) + "/examples/local.yaml");
  ASSERT_TRUE(local.ok());
  std::string tmpl = *local;
  std::string boot = "      BootScript: |\n";
  size_t at = tmpl.find(boot);
  ASSERT_NE(at, std::string::npos);
  tmpl = tmpl.substr(0, at + boot.size()) +
         "        pw='{{resolve:secret:/app/boot-password}}'\n"
         "        [ -n \"$pw\" ]\n"
         "        touch " + home_ + "/booting.$DROVER_INSTANCE\n"
         "        sleep 3\n" +
         tmpl.substr(tmpl.find("\nOutputs:"));
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/work/boot-secret.yaml", tmpl).ok());

  Output up;
  std::thread deploy([&] { up = Drover("up boot-secret.yaml --param ComputeNodes=1"); });
  bool booting = TestCluster::Eventually([&] { return os::Exists(home_ + "/booting.compute-001"); }, 60000);
  std::vector<std::string> leaked = booting ? ProcessesHolding(password) : std::vector<std::string>{};
  deploy.join();
  ASSERT_TRUE(booting) << up.out;
  EXPECT_EQ(leaked, std::vector<std::string>{}) << "the boot script's secret, while it ran";
  ASSERT_EQ(up.code, 0) << up.out;
  EXPECT_EQ(PlacesHolding(password, {home_}), std::vector<std::string>{}) << "leaked after up";
}

// A NoEcho parameter reaches the boot script's environment, and nothing of the stack (state,
// events, logs, status, plan) holds its value; a changed value changes what uses it.
TEST_F(Cli, NoEchoParametersStayOutOfTheStacksState) {
  std::string password = fmt::format("noecho-{}-{}", ::getpid(), ::time(nullptr));
  auto local = os::ReadFile(std::string(DROVER_SOURCE_DIR) + "/examples/local.yaml");
  ASSERT_TRUE(local.ok());
  std::string tmpl = *local;
  tmpl.replace(tmpl.find("Parameters:\n"), 12,
               "Parameters:\n  AppPassword:\n    Type: String\n    NoEcho: true\n    Default: unset-password\n");
  std::string boot = "      BootScript: |\n";
  size_t at = tmpl.find(boot);
  ASSERT_NE(at, std::string::npos);
  tmpl = tmpl.substr(0, at) +
         "      Environment:\n        APP_PASSWORD: !Ref AppPassword\n" + boot +
         "        printf '%s' \"$APP_PASSWORD\" | sha256sum > app-password.sum\n" +
         tmpl.substr(tmpl.find("\nOutputs:"));
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/work/noecho.yaml", tmpl).ok());
  std::string args = "noecho.yaml --param ComputeNodes=1 --param AppPassword=" + password;

  auto plan = Drover("plan " + args);
  ASSERT_EQ(plan.code, 0) << plan.out;
  EXPECT_EQ(plan.out.find(password), std::string::npos) << plan.out;
  auto up = Drover("up " + args);
  ASSERT_EQ(up.code, 0) << up.out;
  EXPECT_EQ(up.out.find(password), std::string::npos) << up.out;
  auto sum = Shell("printf '%s' " + password + " | sha256sum");
  auto seen = os::ReadFile(home_ + "/stacks/noecho/instances/compute-001/app-password.sum");
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(*seen, sum.out) << "the boot script got the value";
  auto status = Drover("status");
  EXPECT_EQ(status.out.find(password), std::string::npos) << status.out;
  EXPECT_EQ(PlacesHolding(password, {home_}), std::vector<std::string>{});

  auto again = Drover("up " + args);
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("no changes"), std::string::npos) << again.out;
  auto changed = Drover("up noecho.yaml --param ComputeNodes=1 --param AppPassword=" + password + "-2");
  ASSERT_EQ(changed.code, 0) << changed.out;
  EXPECT_EQ(changed.out.find("no changes"), std::string::npos) << "a new value updates what uses it:\n" << changed.out;
  EXPECT_EQ(PlacesHolding(password, {home_}), std::vector<std::string>{});
}

}  // namespace
}  // namespace drover::testing
