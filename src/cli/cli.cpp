#include "cli/cli.h"

#include <cstring>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "agent/compute_node.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "cli/mpi_commands.h"
#include "deploy/local_cluster.h"
#include "head/head_node.h"
#include "os/files.h"

namespace drover::cli {
namespace {

void SetupLogging(const std::string& level) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace

int Main(int argc, char** argv) {
  // Open MPI's rsh agent: its arguments are a remote command line, never drover's options.
  if (argc >= 2 && std::strcmp(argv[1], "agent-exec") == 0) return AgentExecCommand(argc - 2, argv + 2);
  CLI::App app("Drover: an HPC cluster deployed as code", "drover");
  app.require_subcommand(1);
  app.set_version_flag("--version", DROVER_VERSION);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string log_level;

  // Everything after the first '--' is the job's command, never options of drover's. A lone path
  // given that way is a command, not a batch script.
  bool explicit_command = false;
  std::vector<std::string> command;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      explicit_command = true;
      command.assign(argv + i + 1, argv + argc);
      argc = i;
      break;
    }
  }

  // Daemons
  head::HeadNodeConfig hc;
  auto* headnode = app.add_subcommand("headnode", "Run a head node");
  headnode->add_option("--state-dir", hc.state_dir, "State directory")->required();
  headnode->add_option("--port", hc.port, "HTTPS port (0: any free port)");
  headnode->add_option("--socket", hc.socket_path, "Local endpoint (default: <state-dir>/headnode.sock)");
  headnode->add_option("--secrets-dir", hc.secrets_dir, "Secret store (default: <state-dir>/secrets)");
  headnode->add_option("--secrets-key-file", hc.secrets_key_file, "Secret store key (default: <state-dir>/secrets.key)");
  headnode->add_option("--bind", hc.bind_address, "Address to listen on");
  headnode->add_option("--cluster-name", hc.cluster_name, "Cluster name");
  headnode->add_option("--dns-name", hc.dns_names, "Extra DNS names for the server certificate");
  headnode->add_flag("--auto-approve", hc.auto_approve, "The default node template approves joining nodes");
  headnode->add_option("--heartbeat-ms", hc.heartbeat_ms, "Agent heartbeat interval");
  headnode->add_option("--heartbeat-timeout-ms", hc.heartbeat_timeout_ms, "Silence before a node is Unreachable");
  headnode->add_option("--log-level", log_level, "trace, debug, info, warn, error");

  agent::ComputeNodeConfig nc;
  std::string token_file;
  auto* computenode = app.add_subcommand("computenode", "Run a compute node agent");
  computenode->add_option("--state-dir", nc.state_dir, "State directory")->required();
  computenode->add_option("--head", nc.head_url, "Head node URL, https://host:port")->required();
  computenode->add_option("--name", nc.name, "Node name (default: host name)");
  computenode->add_option("--token-file", token_file, "File holding the join token, '-' for standard input (first start only)");
  computenode->add_option("--ca-file", nc.ca_file, "Cluster CA certificate (first start only)");
  computenode->add_option("--cores", nc.cores, "Cores to offer (default: all)");
  computenode->add_option("--memory-mb", nc.memory_mb, "Memory to offer (default: all)");
  computenode->add_option("--log-level", log_level, "trace, debug, info, warn, error");

  // Local cluster
  deploy::LocalClusterOptions lo;
  auto* up = app.add_subcommand("up", "Bring up the default local cluster (or start what is not running)");
  up->add_option("--nodes", lo.nodes, "Compute nodes, when the cluster is created")->check(CLI::Range(1, 64));
  up->add_option("--cores", lo.cores_per_node, "Cores per compute node, when the cluster is created");
  up->add_option("--heartbeat-timeout-ms", lo.heartbeat_timeout_ms, "Silence before a node is Unreachable");
  bool purge = false;
  auto* down = app.add_subcommand("down", "Stop the local cluster (its state is kept)");
  down->add_flag("--purge", purge, "Also delete the cluster's state and jobs");

  // Jobs
  JobOptions jo;
  bool json = false;
  auto* submit = app.add_subcommand("submit", "Submit a batch job: submit [options] (-- CMD ARGS | --wrap CMD | SCRIPT)");
  AddJobOptions(*submit, jo);
  submit->add_flag("--json", json, "Print the answer as JSON");
  std::vector<std::string> script_args;
  submit->add_option("script", script_args, "Batch script and its arguments");
  auto* run = app.add_subcommand("run", "Run a command on the cluster and wait: run [options] -- CMD ARGS");
  AddJobOptions(*run, jo);
  run->add_option("command", script_args, "Command (or give it after '--')");

  uint32_t mpi_nodes = 1;
  auto* mpirun = app.add_subcommand("mpirun", "Submit an MPI program: mpirun -N NODES -n RANKS [options] -- PROGRAM ARGS");
  AddJobOptions(*mpirun, jo);
  mpirun->add_option("-N,--nodes", mpi_nodes, "Nodes to spread the ranks over")->check(CLI::PositiveNumber);
  mpirun->add_option("command", script_args, "Program (or give it after '--')");
  auto* mpi_launch = app.add_subcommand("mpi-launch", "Inside a task spanning nodes: run -- CMD with Open MPI set up");
  mpi_launch->add_option("command", script_args, "Command (or give it after '--')");

  bool all = false, tasks = false;
  auto* queue = app.add_subcommand("queue", "List jobs that have not ended");
  queue->add_flag("--all", all, "Include ended jobs");
  queue->add_flag("--json", json, "JSON output");
  auto* job = app.add_subcommand("job", "Job commands");
  job->require_subcommand(1);
  std::string job_id;
  auto* show = job->add_subcommand("show", "Show a job and its tasks");
  show->add_option("id", job_id, "Job id")->required();
  show->add_flag("--tasks", tasks, "List every task, however many");
  show->add_flag("--json", json, "JSON output");
  std::string wait_id;
  auto* wait = job->add_subcommand("wait", "Wait until a job ends; exit 0 when it Finished");
  wait->add_option("id", wait_id, "Job id")->required();
  std::vector<std::string> cancel_ids;
  auto* cancel = app.add_subcommand("cancel", "Cancel jobs: queued tasks stop, running ones are killed");
  cancel->add_option("ids", cancel_ids, "Job ids")->required();
  std::vector<std::string> control_ids;
  std::vector<std::pair<std::string, CLI::App*>> job_controls;
  for (auto [action, help] : {std::pair{"hold", "Hold queued jobs: their queued tasks do not start until released"},
                              std::pair{"release", "Release held jobs"},
                              std::pair{"requeue", "Put running or ended jobs back in the queue; every task reruns"}}) {
    auto* sub = app.add_subcommand(action, help);
    sub->add_option("ids", control_ids, "Job ids")->required();
    job_controls.emplace_back(action, sub);
  }

  // Nodes
  auto* nodes = app.add_subcommand("nodes", "List compute nodes");
  nodes->add_flag("--json", json, "JSON output");
  auto* node = app.add_subcommand("node", "Node commands");
  node->require_subcommand(1);
  std::string node_name, template_name;
  auto* approve = node->add_subcommand("approve", "Assign a node template to an Unapproved node");
  approve->add_option("name", node_name)->required();
  approve->add_option("--template", template_name, "Node template (default: Default)");
  std::vector<std::pair<std::string, CLI::App*>> node_actions;
  for (const char* action : {"online", "offline", "drain", "remove"}) {
    auto* sub = node->add_subcommand(action, std::string("Set a node ") + action);
    sub->add_option("name", node_name)->required();
    node_actions.emplace_back(action, sub);
  }

  // Members
  auto* member = app.add_subcommand("member", "Members and their roles (Administrator)");
  member->require_subcommand(1);
  std::string member_name, member_role = "User", member_out;
  auto* member_add = member->add_subcommand("add", "Add a member (a Unix user) and issue their credential");
  member_add->add_option("name", member_name, "Unix user name")->required();
  member_add->add_option("--role", member_role, "User, JobAdministrator or Administrator");
  member_add->add_option("--out", member_out, "Where to write the credential (default: ~NAME/.drover/credentials)");
  auto* member_list = member->add_subcommand("list", "List members");
  member_list->add_flag("--json", json, "JSON output");
  auto* member_remove = member->add_subcommand("remove", "Remove a member; their credential is revoked at once");
  member_remove->add_option("name", member_name)->required();
  int64_t audit_limit = 100;
  auto* audit = app.add_subcommand("audit", "Read the audit log (Administrator)");
  audit->add_option("-n,--limit", audit_limit, "Most recent entries to show");
  audit->add_flag("--json", json, "JSON output");

  // Secrets
  auto* secret = app.add_subcommand("secret", "The encrypted parameter store (through the head node, or --local)");
  bool secret_local = false;
  secret->add_flag("--local", secret_local, "Use the store on this machine directly (before the head node runs)");
  secret->require_subcommand(1);
  SecretStoreLocation secret_store = DefaultSecretStore();
  std::string secret_name, secret_action;
  std::optional<int> secret_version;
  secret->add_option("--store", secret_store.dir, "With --local: store directory (default: $DROVER_HOME/secrets)");
  secret->add_option("--key-file", secret_store.key_file, "With --local: key file (default: $DROVER_HOME/secrets.key)");
  secret->add_option("--passphrase-file", secret_store.passphrase_file,
                     "With --local: derive the key from the passphrase in this file");
  for (const char* action : {"put", "get", "list", "delete"}) {
    auto* sub = secret->add_subcommand(action, std::string(action) + " a secret");
    if (std::string(action) != "list") sub->add_option("name", secret_name, "Secret name, e.g. /db/password")->required();
    if (std::string(action) == "get") sub->add_option("--version", secret_version, "An older version");
    sub->callback([&secret_action, action] { secret_action = action; });
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (*headnode) {
    SetupLogging(log_level.empty() ? "info" : log_level);
    return head::RunHeadNode(hc);
  }
  if (*computenode) {
    SetupLogging(log_level.empty() ? "info" : log_level);
    if (!token_file.empty()) {
      auto token = os::ReadFile(token_file == "-" ? "/dev/stdin" : token_file);
      if (!token.ok()) return Fail(token.status().message());
      nc.token = Trimmed(*token);
    }
    return agent::RunComputeNode(nc);
  }
  SetupLogging("warn");
  auto print = [](const std::string& line) { std::cout << line << std::endl; };
  if (*up) {
    lo.home = DroverHome();
    Status st = deploy::LocalUp(lo, print);
    return st.ok() ? 0 : Fail(st.message());
  }
  if (*down) {
    Status st = deploy::LocalDown(DroverHome(), purge, print);
    return st.ok() ? 0 : Fail(st.message());
  }
  if (!explicit_command) command = script_args;
  if (*submit) return SubmitCommand(jo, command, explicit_command, json);
  if (*run) return RunCommand(jo, command);
  if (*mpirun) return MpiRunCommand(jo, mpi_nodes, command);
  if (*mpi_launch) return MpiLaunchCommand(command);
  if (*queue) return QueueCommand(all, json);
  if (*show) return JobShowCommand(job_id, tasks, json);
  if (*wait) return JobWaitCommand(wait_id);
  if (*cancel) return CancelCommand(cancel_ids);
  for (const auto& [action, sub] : job_controls) {
    if (*sub) return JobControlCommand(action, control_ids);
  }
  if (*nodes) return NodesCommand(json);
  if (*member_add) return MemberAddCommand(member_name, member_role, member_out);
  if (*member_list) return MemberListCommand(json);
  if (*member_remove) return MemberRemoveCommand(member_name);
  if (*audit) return AuditCommand(audit_limit, json);
  if (*secret) return SecretCommand(secret_action, secret_name, secret_version, secret_store, secret_local);
  if (*approve) return NodeActionCommand("approve", node_name, template_name);
  for (const auto& [action, sub] : node_actions) {
    if (*sub) return NodeActionCommand(action, node_name, "");
  }
  return Fail("unknown command");
}

}  // namespace drover::cli
