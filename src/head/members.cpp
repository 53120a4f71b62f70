#include "head/members.h"

#include <regex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace drover::head {

bool ValidMemberName(const std::string& name) {
  static const std::regex kName("[a-z_][a-z0-9_-]{0,31}");
  // root administers its machine through the local socket; as a member it would run tasks as root.
  return name != "root" && std::regex_match(name, kName);
}

Status Members::Load(Store& store) {
  ASSIGN_OR_RETURN(auto members, store.LoadMembers());
  for (auto& m : members) members_[m.name] = std::move(m);
  ASSIGN_OR_RETURN(auto revoked, store.LoadRevokedCertificates());
  for (const auto& r : revoked) revoked_.insert(r.serial);
  return Status::Ok();
}

Result<Principal> Members::Authenticate(const net::PeerIdentity& peer) const {
  if (peer.local) {
    // The local socket: the kernel vouches for the uid. root administers the machine, so the cluster.
    if (peer.uid == 0) return Principal{"root", Role::kAdministrator};
    auto it = members_.find(peer.unix_user);
    if (peer.unix_user.empty() || it == members_.end()) {
      return Unauthenticated(fmt::format("Unix user {} is not a member of this cluster",
                                         peer.unix_user.empty() ? std::to_string(peer.uid) : peer.unix_user));
    }
    return Principal{it->second.name, it->second.role};
  }
  if (!peer.has_certificate) {
    return Unauthenticated(
        "a client certificate issued by the cluster CA is required; run 'drover up' or set DROVER_CREDENTIALS");
  }
  if (!peer.verified) return Unauthenticated(peer.verify_error);
  if (peer.unit != "member") {
    return Unauthenticated(fmt::format("certificate '{}' is a {} certificate, not a member's", peer.common_name,
                                       peer.unit.empty() ? "non-member" : peer.unit));
  }
  if (IsRevoked(peer.serial_hex)) {
    return Unauthenticated(fmt::format("the certificate of '{}' has been revoked", peer.common_name));
  }
  auto it = members_.find(peer.common_name);
  if (it == members_.end()) {
    return Unauthenticated(fmt::format("'{}' is not a member of this cluster", peer.common_name));
  }
  if (it->second.cert_serial != peer.serial_hex) {
    return Unauthenticated(fmt::format("this certificate of '{}' is not the member's current credential",
                                       peer.common_name));
  }
  return Principal{it->second.name, it->second.role};
}

void Members::Revoke(const Member& m) {
  if (m.cert_serial.empty() || revoked_.count(m.cert_serial)) return;
  revoked_.insert(m.cert_serial);
  persistence_.batch().revoked.push_back({m.cert_serial, m.name, clock_.Now()});
}

Status Members::Add(const std::string& name, Role role, const std::string& cert_serial) {
  if (!ValidMemberName(name)) {
    return InvalidArgument(fmt::format("'{}' is not a valid member name (a Unix user name: lower-case letters, "
                                       "digits, '_' and '-', at most 32 characters)",
                                       name));
  }
  auto it = members_.find(name);
  if (it != members_.end()) Revoke(it->second);
  Member m{name, role, cert_serial, clock_.Now()};
  members_[name] = m;
  persistence_.batch().members.push_back(m);
  return Status::Ok();
}

void Members::AddInitialAdministrator(const std::string& name, const std::string& cert_serial) {
  if (!members_.empty() || IsRevoked(cert_serial)) return;
  Member m{name, Role::kAdministrator, cert_serial, clock_.Now()};
  members_[name] = m;
  persistence_.batch().members.push_back(m);
  Audit("headnode", "member.add", name, "Administrator (initial credential)");
}

Status Members::Remove(const std::string& name) {
  auto it = members_.find(name);
  if (it == members_.end()) return NotFound(fmt::format("'{}' is not a member", name));
  Revoke(it->second);
  members_.erase(it);
  persistence_.batch().deleted_members.push_back(name);
  return Status::Ok();
}

const Member* Members::Find(const std::string& name) const {
  auto it = members_.find(name);
  return it == members_.end() ? nullptr : &it->second;
}

std::vector<Member> Members::List() const {
  std::vector<Member> out;
  for (const auto& [_, m] : members_) out.push_back(m);
  return out;
}

void Members::Audit(const std::string& actor, const std::string& action, const std::string& target,
                    const std::string& detail) {
  spdlog::info("audit: {} {} {}{}{}", actor, action, target, detail.empty() ? "" : " ", detail);
  persistence_.batch().audit.push_back({clock_.Now(), actor, action, target, detail});
}

}  // namespace drover::head
