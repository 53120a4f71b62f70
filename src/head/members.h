// Who may use the cluster: members (Unix user names) with a role, the credentials issued to them,
// and the certificates revoked when a member is removed. Authenticate turns a TLS peer into a
// principal; the API then checks the principal's role for each call.
//
// Runs on the head node's loop. Changes go to the Persistence like every other durable change.
#pragma once

#include <map>
#include <set>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "common/types.h"
#include "head/cluster.h"
#include "net/http.h"
#include "store/store.h"

namespace drover::head {

struct Principal {
  std::string name;
  Role role = Role::kUser;
};

class Members {
 public:
  Members(const Clock& clock, Persistence& persistence) : clock_(clock), persistence_(persistence) {}

  Status Load(Store& store);

  // A verified member certificate of a current member, not revoked -> the member. Otherwise
  // Unauthenticated saying why (no certificate, foreign CA, revoked, not a member).
  Result<Principal> Authenticate(const net::PeerIdentity& peer) const;

  // Records a member with the serial of the credential just issued. An existing member keeps their
  // name; the old credential is revoked and the role replaced.
  Status Add(const std::string& name, Role role, const std::string& cert_serial);
  // Registers the first Administrator's credential, once: only while the cluster has no members,
  // so removing it later sticks, and never a revoked one.
  void AddInitialAdministrator(const std::string& name, const std::string& cert_serial);
  // Removes a member and revokes their credential at once.
  Status Remove(const std::string& name);
  const Member* Find(const std::string& name) const;
  std::vector<Member> List() const;
  bool IsRevoked(const std::string& serial) const { return revoked_.count(serial) > 0; }

  // Appends an audit entry (who, what, when) to the current batch.
  void Audit(const std::string& actor, const std::string& action, const std::string& target,
             const std::string& detail = "");

 private:
  void Revoke(const Member& m);

  const Clock& clock_;
  Persistence& persistence_;
  std::map<std::string, Member> members_;
  std::set<std::string> revoked_;
};

// Unix user names as `useradd` accepts them by default, except root.
bool ValidMemberName(const std::string& name);

}  // namespace drover::head
