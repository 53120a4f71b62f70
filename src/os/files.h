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

}  // namespace drover::os
