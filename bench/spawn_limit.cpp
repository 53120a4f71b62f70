// drover_spawn_limit: how fast this machine can fork and exec a program with a given number of
// children running at once: the ceiling for any scheduler that runs one process per task here.
// Usage: drover_spawn_limit [COUNT [CONCURRENCY [PROGRAM]]]   (defaults: 10000 8 /bin/true)
// Prints `metric value unit` lines.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  long count = argc > 1 ? std::atol(argv[1]) : 10000;
  long concurrency = argc > 2 ? std::atol(argv[2]) : 8;
  std::string program = argc > 3 ? argv[3] : "/bin/true";
  if (count < 1 || concurrency < 1) {
    std::fprintf(stderr, "usage: drover_spawn_limit [COUNT [CONCURRENCY [PROGRAM]]]\n");
    return 2;
  }
  auto start = std::chrono::steady_clock::now();
  long started = 0, running = 0, failed = 0;
  while (started < count || running > 0) {
    while (running < concurrency && started < count) {
      pid_t pid = fork();
      if (pid < 0) {
        std::perror("fork");
        return 1;
      }
      if (pid == 0) {
        execl(program.c_str(), program.c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      ++started;
      ++running;
    }
    int status = 0;
    if (waitpid(-1, &status, 0) > 0) {
      --running;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("spawn_rate %.1f processes/s\n", static_cast<double>(count) / s);
  std::printf("spawn_wall %.3f s\n", s);
  std::printf("spawn_failed %ld count\n", failed);
  return failed == 0 ? 0 : 1;
}
