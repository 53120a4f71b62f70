// The encrypted parameter store: named secrets (paths like /sql-server/service-account/password),
// each with numbered versions, encrypted at rest with XChaCha20-Poly1305 (libsodium's IETF AEAD),
// the secret's name and version bound as associated data so a ciphertext cannot be moved to another
// name. The key is 32 random bytes kept in a 0600 file, or derived from a passphrase with Argon2id.
//
// <dir>/
//   secrets.json     {"format": 1, "kdf": {...} (passphrase stores only), "secrets": {name: [versions]}}
//                    each version: {"version", "created", "nonce", "ciphertext"} (base64)
//   .lock            flock()ed while the file is read-modified-written
//
// Values never appear in error messages. Thread-compatible; processes coordinate through the lock.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace drover::secrets {

struct SecretInfo {
  std::string name;
  int latest_version = 0;
  int versions = 0;
  TimeMs updated = 0;
};

class SecretStore {
 public:
  virtual ~SecretStore() = default;

  // Stores a new version; returns its number (1 for a new secret).
  virtual Result<int> Put(const std::string& name, const std::string& value) = 0;
  // The latest version, or `version` when given. NotFound names the secret (and version).
  // Data that fails authentication (tampered, or another key) is DataLoss with a clear message.
  virtual Result<std::string> Get(const std::string& name, std::optional<int> version = std::nullopt) = 0;
  virtual Result<std::vector<SecretInfo>> List() = 0;
  // Removes every version.
  virtual Status Delete(const std::string& name) = 0;
  // The latest value; when absent, stores `bytes` random bytes (hex-encoded) first. Idempotent.
  virtual Result<std::string> GetOrCreateRandom(const std::string& name, size_t bytes) = 0;
};

// Opens (creating when absent) the store in `dir`, keyed by the 32-byte key in `key_file`
// (created with mode 0600 when absent; a key file readable by others is refused).
Result<std::unique_ptr<SecretStore>> OpenWithKeyFile(const std::string& dir, const std::string& key_file);

// Opens the store in `dir` keyed by a passphrase (Argon2id; salt and cost kept in secrets.json).
// A wrong passphrase is Unauthenticated.
Result<std::unique_ptr<SecretStore>> OpenWithPassphrase(const std::string& dir, const std::string& passphrase);

// Names are absolute paths of segments [A-Za-z0-9._-]+, at most 256 characters.
Status ValidateSecretName(const std::string& name);

}  // namespace drover::secrets
