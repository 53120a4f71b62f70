// Running `drover` as another Unix user in tests. That user runs a copy of the binary in a directory
// the test made for it: the checkout itself may sit where other users cannot enter (a clone in /root,
// or in a `mktemp -d` directory), and a test must pass wherever the repository is cloned.
#pragma once

#include <string>

namespace drover::testing {

// The first directory on the way to `path` (`path` itself included, when it is one) that users other
// than its owner cannot enter (no o+x); "" when there is none.
std::string UntraversableDirectory(const std::string& path);

// Copies the drover binary to DIR/bin/drover (once per DIR, mode 0755) and returns that path. `dir`,
// made by the test, must be enterable by every user (0711 or wider, all the way up): when it is not,
// the test fails, naming the directory in the way.
std::string DroverForOtherUsers(const std::string& dir);

struct UserCommandOutput {
  int code = -1;
  std::string out;  // stdout and stderr together
};

// Runs `drover ARGS` as Unix user `user` (through su, from /tmp) against the head node's local socket
// `socket`: root runs the built binary, anyone else the copy DroverForOtherUsers(dir) makes.
UserCommandOutput DroverAsUser(const std::string& user, const std::string& dir, const std::string& socket,
                               const std::string& args);

}  // namespace drover::testing
