// drover_fsync_probe: how long a small durable write takes on the filesystem holding DIR: COUNT
// appends of 4 KiB, each followed by fdatasync(), as a database's write-ahead log commits. Every
// commit of the head node waits for at least one of these per database file it touched.
// Usage: drover_fsync_probe [DIR [COUNT]]   (defaults: /tmp 200). Prints `metric value unit` lines.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp";
  int count = argc > 2 ? std::atoi(argv[2]) : 200;
  if (count < 1) {
    std::fprintf(stderr, "usage: drover_fsync_probe [DIR [COUNT]]\n");
    return 2;
  }
  std::string path = dir + "/drover-fsync-probe-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) {
    std::perror("mkstemp");
    return 1;
  }
  ::unlink(path.c_str());
  std::vector<char> block(4096, 'x');
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      return 1;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  ::close(fd);
  std::sort(ms.begin(), ms.end());
  std::printf("fdatasync_median %.2f ms\n", ms[ms.size() / 2]);
  std::printf("fdatasync_p95 %.2f ms\n", ms[std::min(ms.size() - 1, ms.size() * 95 / 100)]);
  return 0;
}
