// Small filesystem helpers. Writes are atomic (temporary file + fsync + rename) so that a crash
// never leaves a half-written state file behind.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace drover::os {

Result<std::string> ReadFile(const std::string& path);
// Writes `content` to `path` atomically with permissions `mode`.
Status WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode = 0644);
// mkdir -p; the leaf directory gets `mode` when this call creates it (an existing one is left as is).
Status MakeDirs(const std::string& path, unsigned mode = 0755);
bool Exists(const std::string& path);
Status RemoveFile(const std::string& path);
// Names (not paths) of the entries of a directory; empty when it does not exist.
std::vector<std::string> ListDir(const std::string& path);
std::string JoinPath(const std::string& a, const std::string& b);
// Absolute form of `path` relative to the current directory.
std::string AbsolutePath(const std::string& path);

// Notices when a directory is removed, or replaced by another one made at the same path: daemons
// watch their state directory with it and stop when it is gone, instead of running on without a home.
class DirectoryWatch {
 public:
  // Remembers which directory `path` names now (its device and inode); an error when it is none.
  static Result<DirectoryWatch> Start(const std::string& path);
  // "" while `path` still names that directory, else what became of it, for a log line.
  std::string Changed() const;
  const std::string& path() const { return path_; }

 private:
  DirectoryWatch(std::string path, unsigned long long device, unsigned long long inode)
      : path_(std::move(path)), device_(device), inode_(inode) {}
  std::string path_;
  unsigned long long device_ = 0, inode_ = 0;
};

}  // namespace drover::os
