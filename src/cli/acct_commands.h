// `drover acct` and `drover report`.
#pragma once

#include <string>

namespace drover::cli {

struct AcctOptions {
  std::string job;        // -j
  std::string user;       // -u; default: the caller
  bool all_users = false;  // -a
  std::string start;      // -S
  std::string end;        // -E
  std::string state;      // -s/--state, comma separated
  std::string format;     // -o/--format
  bool json = false;
  bool parsable = false;  // -P
};

int AcctCommand(const AcctOptions& options);
int ReportCommand(const AcctOptions& options);

}  // namespace drover::cli
