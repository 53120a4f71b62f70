// `drover member add|list|remove` and `drover audit`: Administrator commands.
#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "net/pki.h"
#include "os/files.h"

namespace drover::cli {
namespace json = boost::json;

namespace {

// Where a new member's credential goes: the member's own ~/.drover/credentials when this runs as
// root and the user has a home directory (written as the user), else ./<name>-credentials.
std::string DefaultCredentialDir(const std::string& name, const passwd** owner) {
  static passwd pw;
  static std::vector<char> buf(16384);
  passwd* found = nullptr;
  if (::geteuid() == 0 && ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) == 0 && found &&
      os::Exists(found->pw_dir)) {
    *owner = found;
    return os::JoinPath(found->pw_dir, ".drover/credentials");
  }
  return os::AbsolutePath(name + "-credentials");
}

// Sets the effective uid/gid for the scope (root only) and restores them after.
class UserSwitch {
 public:
  UserSwitch(uid_t uid, gid_t gid) {
    ok_ = ::setegid(gid) == 0 && ::seteuid(uid) == 0;
  }
  ~UserSwitch() {
    (void)!::seteuid(0);
    (void)!::setegid(0);
  }
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

}  // namespace

int MemberAddCommand(const std::string& name, const std::string& role, const std::string& out_dir) {
  auto ctx = net::LoadClusterContext();
  if (!ctx.ok()) return Fail(ctx.status().message());
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto key = pki::GenerateKey();
  if (!key.ok()) return Fail(key.status().message());
  auto csr = pki::CreateCsr(*key, {name, "member"});
  if (!csr.ok()) return Fail(csr.status().message());
  auto resp = api->Post("/api/v1/members", json::object{{"name", name}, {"role", role}, {"csr", *csr}});
  if (!resp.ok()) return Fail(resp.status().message());
  const passwd* owner = nullptr;
  std::string dir = out_dir.empty() ? DefaultCredentialDir(name, &owner) : os::AbsolutePath(out_dir);
  std::string cert(resp->at("certificate").as_string()), ca(resp->at("ca_certificate").as_string());
  // Into a member's own home, write as the member: root must not follow links the member planted
  // there, and the files are the member's without any chown.
  std::optional<UserSwitch> as_member;
  if (owner) {
    as_member.emplace(owner->pw_uid, owner->pw_gid);
    if (!as_member->ok()) return Fail(fmt::format("cannot act as {} to write the credential", name));
  }
  for (Status st : {os::MakeDirs(dir, 0700), os::WriteFileAtomic(os::JoinPath(dir, "client.key"), *key, 0600),
                    os::WriteFileAtomic(os::JoinPath(dir, "client.crt"), cert, 0644),
                    os::WriteFileAtomic(os::JoinPath(dir, "ca.crt"), ca, 0644),
                    os::WriteFileAtomic(os::JoinPath(dir, "url"), ctx->url + "\n", 0644)}) {
    if (!st.ok()) return Fail(st.message());
  }
  // Where the stack's names (the head node's among them) resolve, for a cluster deployed on this machine.
  if (!ctx->hosts_file.empty()) {
    Status st = os::WriteFileAtomic(os::JoinPath(dir, "hosts_file"), ctx->hosts_file + "\n", 0644);
    if (!st.ok()) return Fail(st.message());
  }
  std::cout << fmt::format("member {} added as {}; credential in {}\n", name, std::string(resp->at("role").as_string()),
                           dir);
  return 0;
}

int MemberListCommand(bool as_json) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto resp = api->Get("/api/v1/members");
  if (!resp.ok()) return Fail(resp.status().message());
  if (as_json) {
    std::cout << json::serialize(*resp) << "\n";
    return 0;
  }
  std::cout << fmt::format("{:<24} {:<18} {}\n", "NAME", "ROLE", "ADDED");
  for (const auto& m : resp->at("members").as_array()) {
    std::cout << fmt::format("{:<24} {:<18} {}\n", std::string(m.at("name").as_string()),
                             std::string(m.at("role").as_string()), std::string(m.at("created_time").as_string()));
  }
  return 0;
}

int MemberRemoveCommand(const std::string& name) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto resp = api->Post(fmt::format("/api/v1/members/{}/remove", net::PercentEncode(name)), json::object{});
  if (!resp.ok()) return Fail(resp.status().message());
  std::cout << fmt::format("member {} removed; their credential is revoked\n", name);
  return 0;
}

int AuditCommand(int64_t limit, bool as_json) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto resp = api->Get(fmt::format("/api/v1/audit?limit={}", limit));
  if (!resp.ok()) return Fail(resp.status().message());
  if (as_json) {
    std::cout << json::serialize(*resp) << "\n";
    return 0;
  }
  for (const auto& e : resp->at("entries").as_array()) {
    std::cout << fmt::format("{}  {:<12} {:<18} {} {}\n", std::string(e.at("time").as_string()),
                             std::string(e.at("actor").as_string()), std::string(e.at("action").as_string()),
                             std::string(e.at("target").as_string()), std::string(e.at("detail").as_string()));
  }
  return 0;
}

}  // namespace drover::cli
