#include "os/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace drover::os {

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = fmt::format("cannot read {}: {}", path, std::strerror(err));
    return err == ENOENT ? NotFound(msg) : Status(StatusCode::kUnavailable, msg);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Unavailable(fmt::format("cannot read {}: {}", path, std::strerror(err)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode) {
  std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Unavailable(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  ::fchmod(fd, mode);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Unavailable(fmt::format("cannot write {}: {}", tmp, std::strerror(err)));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Unavailable(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Unavailable(fmt::format("cannot rename {} to {}: {}", tmp, path, std::strerror(err)));
  }
  return Status::Ok();
}

Status MakeDirs(const std::string& path, unsigned mode) {
  std::error_code ec;
  bool created = std::filesystem::create_directories(path, ec);
  if (ec) return Unavailable(fmt::format("cannot create directory {}: {}", path, ec.message()));
  // Only a directory made here gets `mode`: an existing one (perhaps /tmp, or a link planted by
  // someone else) keeps its permissions.
  if (created) ::chmod(path.c_str(), mode);
  return Status::Ok();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Unavailable(fmt::format("cannot remove {}: {}", path, std::strerror(errno)));
  }
  return Status::Ok();
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  ::closedir(d);
  return out;
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty() || (!b.empty() && b[0] == '/')) return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

Result<DirectoryWatch> DirectoryWatch::Start(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return NotFound(fmt::format("cannot watch {}: {}", path, std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return InvalidArgument(fmt::format("cannot watch {}: not a directory", path));
  return DirectoryWatch(path, st.st_dev, st.st_ino);
}

std::string DirectoryWatch::Changed() const {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    // Only its absence counts: a passing error (EINTR, ENOMEM) is no reason to stop a daemon.
    return errno == ENOENT || errno == ENOTDIR ? fmt::format("{} was removed", path_) : "";
  }
  if (!S_ISDIR(st.st_mode) || st.st_dev != device_ || st.st_ino != inode_) {
    return fmt::format("{} was removed and replaced by another", path_);
  }
  return "";
}

}  // namespace drover::os
