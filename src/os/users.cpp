#include "os/users.h"

#include <grp.h>
#include <pwd.h>

#include <vector>

namespace drover::os {

std::string PrimaryGroupName(const std::string& user) {
  if (user.empty()) return "";
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) return "";
  gid_t gid = pw.pw_gid;
  group gr{};
  group* gfound = nullptr;
  if (::getgrgid_r(gid, &gr, buf.data(), buf.size(), &gfound) != 0 || !gfound) return "";
  return gr.gr_name;
}

}  // namespace drover::os
