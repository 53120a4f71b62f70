#include "secrets/secret_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string_view>
#include <utility>
#include <variant>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "os/files.h"

namespace drover::secrets {
namespace {

namespace json = boost::json;

constexpr int kFormat = 1;
constexpr size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;    // 32
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;  // 24
constexpr size_t kSaltBytes = crypto_pwhash_SALTBYTES;                        // 16
constexpr size_t kMaxNameLength = 256;
constexpr size_t kMaxRandomBytes = 4096;
constexpr char kKdfAlg[] = "argon2id13";
// Encrypted under the derived key at creation; failing to decrypt it at open = wrong passphrase.
constexpr std::string_view kCheckPlaintext = "drover-secret-store-check-v1";
// Upper bounds on stored Argon2 costs, so a tampered secrets.json cannot make us allocate terabytes.
constexpr uint64_t kMaxOps = 64;
constexpr uint64_t kMaxMem = uint64_t{4} << 30;

const unsigned char* U(const char* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* U(char* p) { return reinterpret_cast<unsigned char*>(p); }

Status InitSodium() {
  static const int rc = sodium_init();  // thread-safe once; 0 = initialized, 1 = already was
  return rc < 0 ? Internal("libsodium failed to initialize") : Status::Ok();
}

// A 32-byte key in sodium_malloc'd memory: guard pages, mlock'd where the rlimit allows, and wiped
// (sodium_free zeroes it) on destruction.
struct SecureKey {
  static std::unique_ptr<SecureKey> Create() {
    void* p = sodium_malloc(kKeyBytes);
    if (p == nullptr) return nullptr;
    (void)sodium_mlock(p, kKeyBytes);  // sodium_malloc already tries; failure (RLIMIT_MEMLOCK) is ok
    return std::unique_ptr<SecureKey>(new SecureKey{static_cast<unsigned char*>(p)});
  }
  ~SecureKey() { sodium_free(key); }
  unsigned char* data() const { return key; }
  unsigned char* key;
};

// flock() on <dir>/.lock, released when the descriptor closes. Per open file description, so two
// store objects in one process also exclude each other.
class DirLock {
 public:
  static Result<DirLock> Acquire(const std::string& dir, bool exclusive) {
    std::string path = os::JoinPath(dir, ".lock");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 && !exclusive && (errno == EACCES || errno == EROFS)) {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // readers of a read-only store
    }
    if (fd < 0) return Unavailable(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    while (::flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Unavailable(fmt::format("cannot lock {}: {}", path, std::strerror(err)));
    }
    return DirLock(fd);
  }
  DirLock(DirLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  ~DirLock() { if (fd_ >= 0) ::close(fd_); }

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

std::string ToBase64(std::string_view bin) {
  const size_t len = sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), len, U(bin.data()), bin.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(len - 1);  // drop the terminating NUL
  return out;
}

// Strict: the whole string must be valid padded base64.
std::optional<std::string> FromBase64(const std::string& b64) {
  std::string out(b64.size() / 4 * 3 + 3, '\0');
  size_t n = 0;
  if (sodium_base642bin(U(out.data()), out.size(), b64.data(), b64.size(), nullptr, &n, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  out.resize(n);
  return out;
}

// ---- secrets.json model -------------------------------------------------------------------------

struct Version {
  int version = 0;
  TimeMs created = 0;
  std::string nonce;       // base64, decoded lazily so one damaged entry only breaks that entry
  std::string ciphertext;  // base64
};

struct Kdf {
  std::string salt;  // raw bytes (kSaltBytes)
  uint64_t ops = 0;
  uint64_t mem = 0;
  std::string check_nonce, check_ciphertext;  // base64; kept inside "kdf" as "check"
};

struct StoreFile {
  std::optional<Kdf> kdf;
  std::map<std::string, std::vector<Version>> secrets;  // versions sorted ascending
};

template <typename T>
std::optional<T> NumField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  json::error_code ec;
  T n = v->to_number<T>(ec);
  if (ec) return std::nullopt;
  return n;
}

std::optional<std::string> StrField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

// A missing file is an empty store; anything unparseable is DataLoss naming the file.
Result<StoreFile> LoadFile(const std::string& path) {
  Result<std::string> text = os::ReadFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return StoreFile{};
    return text.status();
  }
  auto bad = [&](const std::string& what) {
    return DataLoss(fmt::format("{} is malformed: {}", path, what));
  };
  json::error_code ec;
  json::value root = json::parse(*text, ec);
  if (ec) return bad(ec.message());
  const json::object* obj = root.if_object();
  if (obj == nullptr) return bad("not a JSON object");
  if (NumField<int>(*obj, "format") != kFormat) return bad("missing or unsupported \"format\"");

  StoreFile f;
  if (const json::value* kv = obj->if_contains("kdf")) {
    const json::object* k = kv->if_object();
    if (k == nullptr || StrField(*k, "alg") != kKdfAlg) return bad("\"kdf\" is not argon2id13");
    std::optional<std::string> salt = StrField(*k, "salt");
    salt = salt ? FromBase64(*salt) : std::nullopt;
    if (!salt || salt->size() != kSaltBytes) return bad("\"kdf.salt\" is not 16 base64 bytes");
    auto ops = NumField<uint64_t>(*k, "ops");
    auto mem = NumField<uint64_t>(*k, "mem");
    if (!ops || *ops < crypto_pwhash_OPSLIMIT_MIN || *ops > kMaxOps) return bad("bad \"kdf.ops\"");
    if (!mem || *mem < crypto_pwhash_MEMLIMIT_MIN || *mem > kMaxMem) return bad("bad \"kdf.mem\"");
    const json::value* cv = k->if_contains("check");
    const json::object* c = cv ? cv->if_object() : nullptr;
    std::optional<std::string> cn = c ? StrField(*c, "nonce") : std::nullopt;
    std::optional<std::string> cc = c ? StrField(*c, "ciphertext") : std::nullopt;
    if (!cn || !cc) return bad("\"kdf.check\" is missing");
    f.kdf = Kdf{std::move(*salt), *ops, *mem, std::move(*cn), std::move(*cc)};
  }

  const json::value* sv = obj->if_contains("secrets");
  if (sv == nullptr) return f;
  const json::object* secrets = sv->if_object();
  if (secrets == nullptr) return bad("\"secrets\" is not an object");
  for (const auto& [name, arr_value] : *secrets) {
    const json::array* arr = arr_value.if_array();
    if (arr == nullptr || arr->empty()) return bad(fmt::format("secret {} has no versions", std::string(name)));
    std::vector<Version> versions;
    for (const json::value& ev : *arr) {
      const json::object* e = ev.if_object();
      auto num = e ? NumField<int>(*e, "version") : std::nullopt;
      auto created = e ? NumField<int64_t>(*e, "created") : std::nullopt;
      auto nonce = e ? StrField(*e, "nonce") : std::nullopt;
      auto ct = e ? StrField(*e, "ciphertext") : std::nullopt;
      if (!num || *num < 1 || *num == INT32_MAX || !created || !nonce || !ct) {
        return bad(fmt::format("secret {} has a malformed version entry", std::string(name)));
      }
      versions.push_back({*num, *created, std::move(*nonce), std::move(*ct)});
    }
    std::sort(versions.begin(), versions.end(),
              [](const Version& a, const Version& b) { return a.version < b.version; });
    for (size_t i = 1; i < versions.size(); ++i) {
      if (versions[i].version == versions[i - 1].version) {
        return bad(fmt::format("secret {} has version {} twice", std::string(name), versions[i].version));
      }
    }
    f.secrets.emplace(std::string(name), std::move(versions));
  }
  return f;
}

std::string Serialize(const StoreFile& f) {
  json::object root;
  root["format"] = kFormat;
  if (f.kdf) {
    root["kdf"] = json::object{
        {"alg", kKdfAlg},
        {"salt", ToBase64(f.kdf->salt)},
        {"ops", f.kdf->ops},
        {"mem", f.kdf->mem},
        {"check", json::object{{"nonce", f.kdf->check_nonce}, {"ciphertext", f.kdf->check_ciphertext}}}};
  }
  json::object secrets;
  for (const auto& [name, versions] : f.secrets) {
    json::array arr;
    for (const Version& v : versions) {
      arr.push_back(json::object{{"version", v.version},
                                 {"created", v.created},
                                 {"nonce", v.nonce},
                                 {"ciphertext", v.ciphertext}});
    }
    secrets[name] = std::move(arr);
  }
  root["secrets"] = std::move(secrets);
  return json::serialize(root) + "\n";
}

// ---- AEAD ---------------------------------------------------------------------------------------

// Binds a ciphertext to its name and version: moving it elsewhere makes authentication fail.
std::string AssociatedData(const std::string& name, int version) {
  std::string ad("drover-secret\0", 14);
  ad += name;
  ad.push_back('\0');
  ad += std::to_string(version);
  return ad;
}

const std::string kCheckAd("drover-secret-check\0", 20);

// Returns {nonce, ciphertext} as base64, under a fresh random nonce.
std::pair<std::string, std::string> Seal(const SecureKey& key, std::string_view plaintext,
                                         const std::string& ad) {
  unsigned char nonce[kNonceBytes];
  randombytes_buf(nonce, sizeof nonce);
  std::string ct(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long ct_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(U(ct.data()), &ct_len, U(plaintext.data()), plaintext.size(),
                                             U(ad.data()), ad.size(), nullptr, nonce, key.data());
  ct.resize(ct_len);
  return {ToBase64({reinterpret_cast<char*>(nonce), sizeof nonce}), ToBase64(ct)};
}

enum class OpenError { kMalformed, kAuthFailed };

// Decrypts base64 {nonce, ciphertext}; distinguishes bad encoding from failed authentication.
std::variant<std::string, OpenError> Unseal(const SecureKey& key, const std::string& nonce_b64,
                                            const std::string& ct_b64, const std::string& ad) {
  std::optional<std::string> nonce = FromBase64(nonce_b64);
  std::optional<std::string> ct = FromBase64(ct_b64);
  if (!nonce || nonce->size() != kNonceBytes || !ct || ct->size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return OpenError::kMalformed;
  }
  std::string pt(ct->size() - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long pt_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(U(pt.data()), &pt_len, nullptr, U(ct->data()), ct->size(),
                                                 U(ad.data()), ad.size(), U(nonce->data()), key.data()) != 0) {
    return OpenError::kAuthFailed;
  }
  pt.resize(pt_len);
  return pt;
}

Status DeriveKey(const std::string& passphrase, const Kdf& kdf, SecureKey& key) {
  if (crypto_pwhash(key.data(), kKeyBytes, passphrase.data(), passphrase.size(), U(kdf.salt.data()),
                    kdf.ops, static_cast<size_t>(kdf.mem), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Unavailable(fmt::format("passphrase key derivation failed (Argon2id needs {} MiB of memory)",
                                   kdf.mem >> 20));
  }
  return Status::Ok();
}

// ---- the store ----------------------------------------------------------------------------------

class SecretStoreImpl final : public SecretStore {
 public:
  // `salt` is set for passphrase stores: every load checks the file still has that KDF, so a store
  // re-created under our feet (other key, other mode) is refused instead of mixed.
  SecretStoreImpl(std::string dir, std::unique_ptr<SecureKey> key, std::optional<std::string> salt)
      : dir_(std::move(dir)), path_(os::JoinPath(dir_, "secrets.json")), key_(std::move(key)),
        salt_(std::move(salt)) {}

  Result<int> Put(const std::string& name, const std::string& value) override {
    RETURN_IF_ERROR(ValidateSecretName(name));
    ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir_, /*exclusive=*/true));
    ASSIGN_OR_RETURN(StoreFile f, Load());
    int version = Append(f, name, value);
    RETURN_IF_ERROR(os::WriteFileAtomic(path_, Serialize(f), 0600));
    return version;
  }

  Result<std::string> Get(const std::string& name, std::optional<int> version) override {
    RETURN_IF_ERROR(ValidateSecretName(name));
    ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir_, /*exclusive=*/false));
    ASSIGN_OR_RETURN(StoreFile f, Load());  // re-read: another process may have written
    auto it = f.secrets.find(name);
    if (it == f.secrets.end()) return NotFound(fmt::format("secret {} not found", name));
    const std::vector<Version>& versions = it->second;
    if (!version) return Decrypt(name, versions.back());
    for (const Version& v : versions) {
      if (v.version == *version) return Decrypt(name, v);
    }
    return NotFound(fmt::format("secret {} has no version {} (latest is {})", name, *version,
                                versions.back().version));
  }

  Result<std::vector<SecretInfo>> List() override {
    ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir_, /*exclusive=*/false));
    ASSIGN_OR_RETURN(StoreFile f, Load());
    std::vector<SecretInfo> out;  // std::map iteration: sorted by name
    for (const auto& [name, versions] : f.secrets) {
      out.push_back({name, versions.back().version, static_cast<int>(versions.size()), versions.back().created});
    }
    return out;
  }

  Status Delete(const std::string& name) override {
    RETURN_IF_ERROR(ValidateSecretName(name));
    ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir_, /*exclusive=*/true));
    ASSIGN_OR_RETURN(StoreFile f, Load());
    if (f.secrets.erase(name) == 0) return NotFound(fmt::format("secret {} not found", name));
    return os::WriteFileAtomic(path_, Serialize(f), 0600);
  }

  // Check-and-create under one exclusive lock, so concurrent callers (any process) agree on a value.
  Result<std::string> GetOrCreateRandom(const std::string& name, size_t bytes) override {
    RETURN_IF_ERROR(ValidateSecretName(name));
    if (bytes == 0 || bytes > kMaxRandomBytes) {
      return InvalidArgument(fmt::format("random secret size must be 1..{} bytes, not {}", kMaxRandomBytes, bytes));
    }
    ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir_, /*exclusive=*/true));
    ASSIGN_OR_RETURN(StoreFile f, Load());
    if (auto it = f.secrets.find(name); it != f.secrets.end()) return Decrypt(name, it->second.back());
    std::string raw(bytes, '\0');
    randombytes_buf(raw.data(), bytes);
    std::string hex(bytes * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), U(raw.data()), bytes);
    sodium_memzero(raw.data(), raw.size());
    hex.resize(bytes * 2);
    Append(f, name, hex);
    RETURN_IF_ERROR(os::WriteFileAtomic(path_, Serialize(f), 0600));
    return hex;
  }

 private:
  Result<StoreFile> Load() const {
    ASSIGN_OR_RETURN(StoreFile f, LoadFile(path_));
    if (f.kdf.has_value() != salt_.has_value() || (salt_ && f.kdf->salt != *salt_)) {
      return FailedPrecondition(fmt::format(
          "the secret store in {} was re-created with a different key since it was opened; reopen it", dir_));
    }
    return f;
  }

  int Append(StoreFile& f, const std::string& name, std::string_view value) const {
    std::vector<Version>& versions = f.secrets[name];
    int version = versions.empty() ? 1 : versions.back().version + 1;
    auto [nonce, ct] = Seal(*key_, value, AssociatedData(name, version));
    versions.push_back({version, SystemClock().Now(), std::move(nonce), std::move(ct)});
    return version;
  }

  Result<std::string> Decrypt(const std::string& name, const Version& v) const {
    auto r = Unseal(*key_, v.nonce, v.ciphertext, AssociatedData(name, v.version));
    if (auto* pt = std::get_if<std::string>(&r)) return std::move(*pt);
    if (std::get<OpenError>(r) == OpenError::kMalformed) {
      return DataLoss(fmt::format("secret {} version {} in {} is malformed (bad nonce or ciphertext encoding)",
                                  name, v.version, path_));
    }
    return DataLoss(fmt::format("secret {} version {} cannot be decrypted: the data was altered or the key is "
                                "not the one it was written with", name, v.version));
  }

  const std::string dir_;
  const std::string path_;
  const std::unique_ptr<SecureKey> key_;
  const std::optional<std::string> salt_;
};

// Creates `dir` (0700) only when absent: MakeDirs chmods existing directories too.
Status EnsureDir(const std::string& dir) {
  if (dir.empty() || os::Exists(dir)) return Status::Ok();
  return os::MakeDirs(dir, 0700);
}

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out += (c >= 0x20 && c < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", c);
  return out;
}

}  // namespace

Result<std::unique_ptr<SecretStore>> OpenWithKeyFile(const std::string& dir, const std::string& key_file) {
  RETURN_IF_ERROR(InitSodium());
  RETURN_IF_ERROR(EnsureDir(dir));
  // Exclusive while we look at (and maybe create) the key file, so two first openers cannot each
  // write a different key.
  ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir, /*exclusive=*/true));
  ASSIGN_OR_RETURN(StoreFile f, LoadFile(os::JoinPath(dir, "secrets.json")));
  if (f.kdf) {
    return FailedPrecondition(fmt::format("the secret store in {} is keyed by a passphrase, not a key file", dir));
  }
  std::unique_ptr<SecureKey> key = SecureKey::Create();
  if (!key) return Internal("cannot allocate secure memory for the secret store key");

  struct stat st;
  if (::stat(key_file.c_str(), &st) != 0) {
    if (errno != ENOENT) return Unavailable(fmt::format("cannot stat key file {}: {}", key_file, std::strerror(errno)));
    if (!f.secrets.empty()) {
      // A fresh key could decrypt none of them; the operator most likely lost the key file.
      return FailedPrecondition(fmt::format(
          "key file {} does not exist but the secret store in {} already holds secrets; restore the key file "
          "they were written with", key_file, dir));
    }
    RETURN_IF_ERROR(EnsureDir(std::filesystem::path(key_file).parent_path().string()));
    randombytes_buf(key->data(), kKeyBytes);
    std::string bytes(reinterpret_cast<const char*>(key->data()), kKeyBytes);
    Status written = os::WriteFileAtomic(key_file, bytes, 0600);
    sodium_memzero(bytes.data(), bytes.size());
    RETURN_IF_ERROR(written);
  } else {
    if (!S_ISREG(st.st_mode)) return FailedPrecondition(fmt::format("key file {} is not a regular file", key_file));
    if ((st.st_mode & 077) != 0) {
      return FailedPrecondition(fmt::format(
          "key file {} has mode {:04o}, which lets group or others access it; run chmod 600 {}", key_file,
          st.st_mode & 07777, key_file));
    }
    // ReadFile's buffer is a plain std::string; we wipe it, though growth may have left copies.
    ASSIGN_OR_RETURN(std::string bytes, os::ReadFile(key_file));
    const size_t size = bytes.size();
    if (size == kKeyBytes) std::memcpy(key->data(), bytes.data(), kKeyBytes);
    sodium_memzero(bytes.data(), bytes.size());
    if (size != kKeyBytes) {
      return InvalidArgument(fmt::format("key file {} must hold exactly {} raw bytes, but holds {}", key_file,
                                         kKeyBytes, size));
    }
  }
  return std::unique_ptr<SecretStore>(new SecretStoreImpl(dir, std::move(key), std::nullopt));
}

Result<std::unique_ptr<SecretStore>> OpenWithPassphrase(const std::string& dir, const std::string& passphrase) {
  RETURN_IF_ERROR(InitSodium());
  if (passphrase.empty()) return InvalidArgument("the passphrase for the secret store is empty");
  RETURN_IF_ERROR(EnsureDir(dir));
  ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir, /*exclusive=*/true));
  const std::string path = os::JoinPath(dir, "secrets.json");
  ASSIGN_OR_RETURN(StoreFile f, LoadFile(path));
  std::unique_ptr<SecureKey> key = SecureKey::Create();
  if (!key) return Internal("cannot allocate secure memory for the secret store key");

  if (!f.kdf) {
    if (!f.secrets.empty()) {
      return FailedPrecondition(fmt::format("the secret store in {} is keyed by a key file, not a passphrase", dir));
    }
    // New store: fresh salt, interactive Argon2id costs, and the check value for later opens.
    Kdf kdf;
    kdf.salt.resize(kSaltBytes);
    randombytes_buf(kdf.salt.data(), kSaltBytes);
    kdf.ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    kdf.mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    RETURN_IF_ERROR(DeriveKey(passphrase, kdf, *key));
    std::tie(kdf.check_nonce, kdf.check_ciphertext) = Seal(*key, kCheckPlaintext, kCheckAd);
    f.kdf = std::move(kdf);
    RETURN_IF_ERROR(os::WriteFileAtomic(path, Serialize(f), 0600));
  } else {
    RETURN_IF_ERROR(DeriveKey(passphrase, *f.kdf, *key));
    auto r = Unseal(*key, f.kdf->check_nonce, f.kdf->check_ciphertext, kCheckAd);
    if (auto* e = std::get_if<OpenError>(&r); e && *e == OpenError::kMalformed) {
      return DataLoss(fmt::format("{} is malformed: bad \"kdf.check\" encoding", path));
    }
    if (!std::holds_alternative<std::string>(r) || std::get<std::string>(r) != kCheckPlaintext) {
      return Unauthenticated(fmt::format("wrong passphrase for the secret store in {}", dir));
    }
  }
  return std::unique_ptr<SecretStore>(new SecretStoreImpl(dir, std::move(key), f.kdf->salt));
}

Status ValidateSecretName(const std::string& name) {
  if (name.empty()) return InvalidArgument("secret name is empty; names are paths like /service/password");
  if (name.size() > kMaxNameLength) {
    return InvalidArgument(fmt::format("secret name is {} characters long; the limit is {}", name.size(),
                                       kMaxNameLength));
  }
  const std::string shown = Printable(name);
  if (name[0] != '/') return InvalidArgument(fmt::format("secret name {} must start with '/'", shown));
  size_t start = 1;
  for (;;) {
    size_t end = name.find('/', start);
    std::string_view seg = std::string_view(name).substr(start, end == std::string::npos ? end : end - start);
    if (seg.empty()) {
      return InvalidArgument(fmt::format("secret name {} has an empty segment (a '//' or a trailing '/')", shown));
    }
    if (seg == "." || seg == "..") {
      return InvalidArgument(fmt::format("secret name {} has a '{}' segment", shown, seg));
    }
    for (char c : seg) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-';  // ASCII only, whatever the locale
      if (!ok) {
        return InvalidArgument(fmt::format("secret name {} contains '{}'; segments may hold only A-Z a-z 0-9 . _ -",
                                           shown, Printable(std::string_view(&c, 1))));
      }
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return Status::Ok();
}

}  // namespace drover::secrets
