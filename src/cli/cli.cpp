#include "cli/cli.h"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "agent/compute_node.h"
#include "cli/acct_commands.h"
#include "cli/commands.h"
#include "net/cluster_context.h"
#include "cli/mpi_commands.h"
#include "cli/option_checks.h"
#include "cli/scheduling_commands.h"
#include "cli/stack_commands.h"
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
  WholeNumber(headnode->add_option("--port", hc.port, "HTTPS port (0: any free port)"), 0, 65535);
  headnode->add_option("--database-dir", hc.database_dir, "SQLite stores (default: <state-dir>/db)");
  headnode->add_option("--socket", hc.socket_path, "Local endpoint (default: <state-dir>/headnode.sock)");
  headnode->add_option("--secrets-dir", hc.secrets_dir, "Secret store (default: <state-dir>/secrets)");
  headnode->add_option("--secrets-key-file", hc.secrets_key_file, "Secret store key (default: <state-dir>/secrets.key)");
  headnode->add_option("--secret-prefix", hc.secret_prefix,
                       "Where the CA key and join token live in the secret store (default: /drover/)");
  headnode->add_option("--bind", hc.bind_address, "Address to listen on");
  headnode->add_option("--cluster-name", hc.cluster_name, "Cluster name");
  headnode->add_option("--dns-name", hc.dns_names, "Extra DNS names for the server certificate");
  headnode->add_flag("--auto-approve", hc.auto_approve, "The default node template approves joining nodes");
  headnode->add_option("--heartbeat-ms", hc.heartbeat_ms, "Agent heartbeat interval");
  headnode->add_option("--heartbeat-timeout-ms", hc.heartbeat_timeout_ms, "Silence before a node is Unreachable");
  headnode->add_option("--database", hc.database_url,
                       "PostgreSQL instead of SQLite: postgresql://user@host:port/prefix (no password)");
  headnode->add_option("--database-password-file", hc.database_password_file,
                       "File holding the database password ('-': standard input)");
  headnode->add_option("--database-password-secret", hc.database_password_secret,
                       "Name of the database password in the secret store");
  headnode->add_option("--log-level", log_level, "trace, debug, info, warn, error");

  agent::ComputeNodeConfig nc;
  std::string token_file;
  auto* computenode = app.add_subcommand("computenode", "Run a compute node agent");
  computenode->add_option("--state-dir", nc.state_dir, "State directory")->required();
  computenode->add_option("--head", nc.head_url, "Head node URL, https://host:port")->required();
  computenode->add_option("--name", nc.name, "Node name (default: host name)");
  computenode->add_option("--token-file", token_file, "File holding the join token, '-' for standard input (first start only)");
  computenode->add_option("--ca-file", nc.ca_file, "Cluster CA certificate (first start only)");
  computenode->add_option("--template", nc.node_template, "Node template to join with (it must approve joining nodes)");
  computenode->add_option("--cores", nc.cores, "Cores to offer (default: all)");
  computenode->add_option("--memory-mb", nc.memory_mb, "Memory to offer (default: all)");
  computenode->add_option("--cgroup-root", nc.cgroup_root, "Where cgroups are mounted, v1 or v2 (default /sys/fs/cgroup; '' : no limits)");
  computenode->add_option("--task-pids-max", nc.task_pids_max, "Most processes a task may have (default: no limit)");
  WholeNumber(computenode->add_option("--fake-gpus", nc.fake_gpus,
                                      "For testing: offer N made-up GPUs instead of detecting them (also $DROVER_FAKE_GPUS)"),
              0, 64);
  computenode->add_option("--log-level", log_level, "trace, debug, info, warn, error");

  // Deployment as code
  StackCommandOptions so;
  std::string stack_name;
  auto add_stack_options = [&](CLI::App* sub) {
    sub->add_option("template", so.template_path, "Template (default: the built-in examples/local.yaml)");
    sub->add_option("--stack", so.stack, "Stack name (default: the template's file name without extension)");
    sub->add_option("-p,--param", so.params, "Template parameter NAME=VALUE")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    sub->add_option("--provider", so.provider, "Where instances run: local (processes) or netns (namespaces; root)");
    WholeNumber(sub->add_option("--nodes", so.nodes, "Shorthand for --param ComputeNodes=N"), 1, 64);
    WholeNumber(sub->add_option("--cores", so.cores, "Shorthand for --param CoresPerNode=N"), 1);
    sub->add_option("--heartbeat-timeout-ms", so.heartbeat_timeout_ms, "Shorthand for --param HeartbeatTimeoutMs=N");
  };
  auto* plan = app.add_subcommand("plan", "Show what 'up' would create, change, replace or delete");
  add_stack_options(plan);
  auto* up = app.add_subcommand("up", "Deploy a stack from a template (default: the local cluster)");
  add_stack_options(up);
  up->add_flag("--no-rollback", so.no_rollback, "Leave a failed up as it is, for inspection");
  bool purge = false;
  auto* down = app.add_subcommand("down", "Remove a stack (data whose DeletionPolicy is Retain is kept)");
  down->add_option("--stack", stack_name, "Stack name (default: the only stack, or 'local')");
  down->add_flag("--purge", purge, "Also delete retained data: the database and every job in it");
  auto* status = app.add_subcommand("status", "Show a stack: its resources, outputs and recent events");
  status->add_option("--stack", stack_name, "Stack name (default: the only stack, or 'local')");
  bool status_json = false;
  status->add_flag("--json", status_json, "JSON output");
  std::string log_resource, log_instance;
  auto* logs = app.add_subcommand("logs", "Show a resource's boot script and daemon logs");
  logs->add_option("resource", log_resource, "Resource name in the template")->required();
  logs->add_option("--stack", stack_name, "Stack name (default: the only stack, or 'local')");
  logs->add_option("--instance", log_instance, "Only this instance");
  auto* stack_cmd = app.add_subcommand("stack", "Stack internals");
  stack_cmd->group("");
  std::string supervise_home;
  auto* supervise = stack_cmd->add_subcommand("supervise", "Keep a stack's instances running (started by up)");
  supervise->add_option("--home", supervise_home)->required();
  supervise->add_option("--stack", stack_name)->required();

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

  auto* mpirun = app.add_subcommand("mpirun", "Submit an MPI program: mpirun -N NODES -n RANKS [options] -- PROGRAM ARGS");
  AddJobOptions(*mpirun, jo);  // -N spreads the ranks over that many nodes
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

  // Accounting
  AcctOptions ao;
  auto* acct = app.add_subcommand("acct", "Accounting of ended jobs and tasks, like sacct");
  acct->add_option("-j,--jobs", ao.job, "Only this job");
  acct->add_option("-u,--user", ao.user, "Only this user's jobs (default: yours)");
  acct->add_flag("-a,--allusers", ao.all_users, "Every user's jobs (JobAdministrator)");
  acct->add_option("-S,--starttime", ao.start, "From: YYYY-MM-DD[THH:MM[:SS]], now-1days, ... (default: midnight)");
  acct->add_option("-E,--endtime", ao.end, "Until: same forms (default: now)");
  acct->add_option("-s,--state", ao.state, "Only jobs in these states: Running,Finished,Failed,Canceled,Timeout,OutOfMemory");
  acct->add_option("-o,--format", ao.format, "Fields to print, e.g. JobID,State,Elapsed,TotalCPU,MaxRSS");
  acct->add_flag("--json", ao.json, "JSON output");
  acct->add_flag("-P,--parsable2", ao.parsable, "Fields separated by '|'");
  auto* report = app.add_subcommand("report", "Usage per user and group over a period: jobs, core-, GPU- and CPU-hours");
  report->add_option("-S,--starttime", ao.start, "From (default: now-1day)");
  report->add_option("-E,--endtime", ao.end, "Until (default: now)");
  report->add_option("-u,--user", ao.user, "Only this user (default: everyone you may see)");
  report->add_flag("--json", ao.json, "JSON output");
  report->add_flag("-P,--parsable2", ao.parsable, "Fields separated by '|'");

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
  WholeNumber(audit->add_option("-n,--limit", audit_limit, "Most recent entries to show"), 1);
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
    if (std::string(action) == "get") WholeNumber(sub->add_option("--version", secret_version, "An older version"), 1);
    sub->callback([&secret_action, action] { secret_action = action; });
  }

  SchedulingCommands scheduling(app);

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
    if (const char* fake = std::getenv("DROVER_FAKE_GPUS"); fake && nc.fake_gpus < 0) {
      char* end = nullptr;
      long n = std::strtol(fake, &end, 10);
      if (*fake == '\0' || *end != '\0' || n < 0 || n > 64) return Fail("DROVER_FAKE_GPUS must be a number from 0 to 64");
      nc.fake_gpus = static_cast<int>(n);
    }
    if (!token_file.empty()) {
      // The token lets anyone join a node: a file of it must be its owner's alone.
      struct stat st;
      if (token_file != "-" && ::stat(token_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
        return Fail(fmt::format("the join token file {} is open to other users (mode {:04o}); make it 0600",
                                token_file, st.st_mode & 07777));
      }
      auto token = os::ReadFile(token_file == "-" ? "/dev/stdin" : token_file);
      if (!token.ok()) return Fail(token.status().message());
      nc.token = Trimmed(*token);
    }
    return agent::RunComputeNode(nc);
  }
  SetupLogging("warn");
  if (*plan) return PlanCommand(so);
  if (*up) return UpCommand(so);
  if (*down) return DownCommand(stack_name, purge);
  if (*status) return StatusCommand(stack_name, status_json);
  if (*logs) return LogsCommand(stack_name, log_resource, log_instance);
  if (*supervise) return SuperviseCommand(supervise_home, stack_name);
  if (!explicit_command) command = script_args;
  if (*submit) return SubmitCommand(jo, command, explicit_command, json);
  if (*run) return RunCommand(jo, command);
  if (*mpirun) return MpiRunCommand(jo, command);
  if (*mpi_launch) return MpiLaunchCommand(command);
  if (*queue) return QueueCommand(all, json);
  if (*show) return JobShowCommand(job_id, tasks, json);
  if (*wait) return JobWaitCommand(wait_id);
  if (*cancel) return CancelCommand(cancel_ids);
  for (const auto& [action, sub] : job_controls) {
    if (*sub) return JobControlCommand(action, control_ids);
  }
  if (*nodes) return NodesCommand(json);
  if (*acct) return AcctCommand(ao);
  if (*report) {
    ao.all_users = ao.user.empty();  // the head node narrows a User to their own usage
    return ReportCommand(ao);
  }
  if (*member_add) return MemberAddCommand(member_name, member_role, member_out);
  if (*member_list) return MemberListCommand(json);
  if (*member_remove) return MemberRemoveCommand(member_name);
  if (*audit) return AuditCommand(audit_limit, json);
  if (*secret) return SecretCommand(secret_action, secret_name, secret_version, secret_store, secret_local);
  if (auto rc = scheduling.Run()) return *rc;
  if (*approve) return NodeActionCommand("approve", node_name, template_name);
  for (const auto& [action, sub] : node_actions) {
    if (*sub) return NodeActionCommand(action, node_name, "");
  }
  return Fail("unknown command");
}

}  // namespace drover::cli
