// User commands. Each returns the process exit code and prints errors to stderr.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/job_options.h"
#include "secrets/secret_store.h"

namespace drover::cli {

int SubmitCommand(const JobOptions& options, const std::vector<std::string>& args, bool explicit_command,
                  bool json);
int RunCommand(const JobOptions& options, const std::vector<std::string>& args);
int QueueCommand(bool all, bool json);
int JobShowCommand(const std::string& id, bool tasks, bool json);
int JobWaitCommand(const std::string& id);
int CancelCommand(const std::vector<std::string>& ids);
// action: hold, release or requeue (Slurm's scontrol hold/release/requeue).
int JobControlCommand(const std::string& action, const std::vector<std::string>& ids);
int NodesCommand(bool json);
int NodeActionCommand(const std::string& action, const std::string& name, const std::string& template_name);

int MemberAddCommand(const std::string& name, const std::string& role, const std::string& out_dir);
int MemberListCommand(bool json);
int MemberRemoveCommand(const std::string& name);
int AuditCommand(int64_t limit, bool json);

// Where the secret store is: a directory and either a key file or a passphrase file.
struct SecretStoreLocation {
  std::string dir;
  std::string key_file;
  std::string passphrase_file;
};
// $DROVER_HOME/secrets with the key in $DROVER_HOME/secrets.key.
SecretStoreLocation DefaultSecretStore();
Result<std::unique_ptr<secrets::SecretStore>> OpenSecretStore(const SecretStoreLocation& where);
// action: put (value from stdin or a prompt), get, list, delete. Through the head node (audited,
// Administrators only) unless `local`: then on the store at `where`, on this machine.
int SecretCommand(const std::string& action, const std::string& name, std::optional<int> version,
                  const SecretStoreLocation& where, bool local);

// Prints "drover: <message>" to stderr and returns 1.
int Fail(const std::string& message);

// Prints rows as left-aligned columns, two spaces apart.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace drover::cli
