#include "secrets/secret_store.h"

#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "os/files.h"

namespace drover::secrets {
namespace {

namespace json = boost::json;

class SecretStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    char tmpl[] = "/tmp/drover_secrets_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/store";
    key_ = root_ + "/keys/store.key";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::unique_ptr<SecretStore> OpenKey(const std::string& key_file = "") {
    auto s = OpenWithKeyFile(dir_, key_file.empty() ? key_ : key_file);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::string StoreFileText() { return os::ReadFile(dir_ + "/secrets.json").value(); }
  json::object StoreJson() { return json::parse(StoreFileText()).as_object(); }
  void WriteStoreJson(const json::object& o) {
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/secrets.json", json::serialize(o), 0600).ok());
  }
  static void WriteKeyFile(const std::string& path, unsigned mode) {
    std::string key(32, '\0');
    randombytes_buf(key.data(), key.size());
    ASSERT_TRUE(os::WriteFileAtomic(path, key, mode).ok());
  }

  std::string root_, dir_, key_;
};

std::string B64Decode(const std::string& s) {
  std::string out(s.size(), '\0');
  size_t n = 0;
  EXPECT_EQ(sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(), s.size(),
                              nullptr, &n, nullptr, sodium_base64_VARIANT_ORIGINAL), 0);
  out.resize(n);
  return out;
}

std::string B64Encode(const std::string& s) {
  size_t len = sodium_base64_ENCODED_LEN(s.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(len, '\0');
  sodium_bin2base64(out.data(), len, reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(len - 1);
  return out;
}

TEST_F(SecretStoreTest, PutGetRoundTripAndFilesArePrivate) {
  auto store = OpenKey();
  ASSERT_TRUE(store);
  auto v = store->Put("/sql-server/service-account/password", "correct horse battery staple");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 1);
  auto got = store->Get("/sql-server/service-account/password");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "correct horse battery staple");

  std::string binary("a\0b\xff", 4);  // arbitrary bytes and the empty value survive
  ASSERT_TRUE(store->Put("/bin", binary).ok());
  EXPECT_EQ(*store->Get("/bin"), binary);
  ASSERT_TRUE(store->Put("/empty", "").ok());
  EXPECT_EQ(*store->Get("/empty"), "");

  struct stat st;
  ASSERT_EQ(::stat(key_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_EQ(::stat((dir_ + "/secrets.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(SecretStoreTest, Versions) {
  auto store = OpenKey();
  EXPECT_EQ(*store->Put("/db/pw", "first-value"), 1);
  EXPECT_EQ(*store->Put("/db/pw", "second-value"), 2);
  EXPECT_EQ(*store->Get("/db/pw"), "second-value");
  EXPECT_EQ(*store->Get("/db/pw", 1), "first-value");
  EXPECT_EQ(*store->Get("/db/pw", 2), "second-value");
}

TEST_F(SecretStoreTest, ListSortedWithVersionCounts) {
  auto store = OpenKey();
  auto empty = store->List();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(store->Put("/zeta", "z").ok());
  ASSERT_TRUE(store->Put("/alpha/b", "a1").ok());
  ASSERT_TRUE(store->Put("/alpha/b", "a2").ok());
  ASSERT_TRUE(store->Put("/alpha/a", "x").ok());
  auto list = store->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "/alpha/a");
  EXPECT_EQ((*list)[1].name, "/alpha/b");
  EXPECT_EQ((*list)[2].name, "/zeta");
  EXPECT_EQ((*list)[1].versions, 2);
  EXPECT_EQ((*list)[1].latest_version, 2);
  EXPECT_EQ((*list)[0].versions, 1);
  EXPECT_GT((*list)[0].updated, 0);
}

TEST_F(SecretStoreTest, Delete) {
  auto store = OpenKey();
  ASSERT_TRUE(store->Put("/a", "1").ok());
  ASSERT_TRUE(store->Put("/b", "2").ok());
  ASSERT_TRUE(store->Delete("/a").ok());
  EXPECT_EQ(store->Get("/a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store->Get("/b"), "2");
  Status again = store->Delete("/a");
  EXPECT_EQ(again.code(), StatusCode::kNotFound);
  EXPECT_NE(again.message().find("/a"), std::string::npos);
  EXPECT_EQ(store->List()->size(), 1u);
  EXPECT_EQ(*store->Put("/a", "new"), 1);  // a re-created secret starts over
}

TEST_F(SecretStoreTest, UnknownNameAndVersionMessages) {
  auto store = OpenKey();
  auto missing = store->Get("/nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nope"), std::string::npos);
  ASSERT_TRUE(store->Put("/x", "v1").ok());
  ASSERT_TRUE(store->Put("/x", "v2").ok());
  auto bad = store->Get("/x", 7);
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bad.status().message(), "secret /x has no version 7 (latest is 2)");
  EXPECT_EQ(store->Get("/x", 0).status().code(), StatusCode::kNotFound);
}

TEST(SecretNameTest, Validation) {
  struct Case {
    std::string name;
    bool ok;
    std::string mentions;  // a phrase the error must contain
  };
  const std::vector<Case> cases = {
      {"/a", true, ""},
      {"/sql-server/service-account/password", true, ""},
      {"/A.b_c-9/x", true, ""},
      {"/.hidden", true, ""},
      {"/a..b", true, ""},
      {std::string("/") + std::string(255, 'x'), true, ""},
      {"", false, "empty"},
      {"a/b", false, "start with '/'"},
      {"/", false, "empty segment"},
      {"/a//b", false, "empty segment"},
      {"/a/", false, "empty segment"},
      {"/a/./b", false, "'.' segment"},
      {"/a/..", false, "'..' segment"},
      {"/..", false, "'..' segment"},
      {"/a b", false, "contains ' '"},
      {"/a$b", false, "contains '$'"},
      {"/caf\xc3\xa9", false, "\\xc3"},
      {std::string("/a\nb"), false, "\\x0a"},
      {std::string("/") + std::string(256, 'x'), false, "257 characters"},
  };
  for (const Case& c : cases) {
    Status s = ValidateSecretName(c.name);
    EXPECT_EQ(s.ok(), c.ok) << "name: " << c.name << " -> " << s.ToString();
    if (!c.ok) {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name;
      EXPECT_NE(s.message().find(c.mentions), std::string::npos) << s.message();
    }
  }
}

TEST_F(SecretStoreTest, InvalidNamesAreRejectedByEveryOperation) {
  auto store = OpenKey();
  EXPECT_EQ(store->Put("bad", "v").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Get("bad").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Delete("bad").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->GetOrCreateRandom("bad", 16).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->GetOrCreateRandom("/ok", 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SecretStoreTest, ValuesAreNotStoredInPlaintext) {
  auto store = OpenKey();
  const std::string value = "PLAINTEXT-CANARY-7d3f9a";
  ASSERT_TRUE(store->Put("/canary", value).ok());
  ASSERT_TRUE(store->Put("/canary", value).ok());
  std::string bytes = StoreFileText();
  EXPECT_EQ(bytes.find(value), std::string::npos);
  EXPECT_EQ(bytes.find("CANARY"), std::string::npos);
  // A fresh nonce per version: the same value encrypts differently.
  json::array versions = StoreJson()["secrets"].as_object()["/canary"].as_array();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_NE(versions[0].as_object()["nonce"], versions[1].as_object()["nonce"]);
  EXPECT_NE(versions[0].as_object()["ciphertext"], versions[1].as_object()["ciphertext"]);
}

TEST_F(SecretStoreTest, TamperedCiphertextIsDataLoss) {
  auto store = OpenKey();
  const std::string value = "tamper-me-value";
  ASSERT_TRUE(store->Put("/t", value).ok());
  json::object root = StoreJson();
  json::object& v = root["secrets"].as_object()["/t"].as_array()[0].as_object();
  std::string ct = B64Decode(std::string(v["ciphertext"].as_string()));
  ct[ct.size() / 2] ^= 0x01;
  v["ciphertext"] = B64Encode(ct);
  WriteStoreJson(root);
  auto got = store->Get("/t");
  EXPECT_EQ(got.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(got.status().message().find("secret /t version 1 cannot be decrypted"), std::string::npos);
  EXPECT_EQ(got.status().message().find(value), std::string::npos);
}

TEST_F(SecretStoreTest, CiphertextMovedToAnotherNameOrVersionIsDataLoss) {
  auto store = OpenKey();
  ASSERT_TRUE(store->Put("/a", "value-a").ok());
  ASSERT_TRUE(store->Put("/b", "value-b").ok());
  ASSERT_TRUE(store->Put("/c", "c-one").ok());
  ASSERT_TRUE(store->Put("/c", "c-two").ok());
  json::object root = StoreJson();
  json::object& secrets = root["secrets"].as_object();
  json::object a1 = secrets["/a"].as_array()[0].as_object();
  json::object& b1 = secrets["/b"].as_array()[0].as_object();
  b1["nonce"] = a1["nonce"];
  b1["ciphertext"] = a1["ciphertext"];
  json::array& c = secrets["/c"].as_array();  // swap payloads of versions 1 and 2
  json::object c1 = c[0].as_object();
  c[0].as_object()["nonce"] = c[1].as_object()["nonce"];
  c[0].as_object()["ciphertext"] = c[1].as_object()["ciphertext"];
  c[1].as_object()["nonce"] = c1["nonce"];
  c[1].as_object()["ciphertext"] = c1["ciphertext"];
  WriteStoreJson(root);
  EXPECT_EQ(*store->Get("/a"), "value-a");
  auto moved = store->Get("/b");
  EXPECT_EQ(moved.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(moved.status().message().find("value-a"), std::string::npos);
  EXPECT_EQ(store->Get("/c", 1).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(store->Get("/c", 2).status().code(), StatusCode::kDataLoss);
}

TEST_F(SecretStoreTest, WrongKeyFileIsDataLossOnGet) {
  ASSERT_TRUE(OpenKey()->Put("/s", "written-with-key-one").ok());
  const std::string other = root_ + "/other.key";
  WriteKeyFile(other, 0600);
  auto store = OpenKey(other);
  ASSERT_TRUE(store);
  auto got = store->Get("/s");
  EXPECT_EQ(got.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(got.status().message(),
            "secret /s version 1 cannot be decrypted: the data was altered or the key is not the one it was "
            "written with");
}

TEST_F(SecretStoreTest, MissingKeyFileForPopulatedStoreIsRefused) {
  ASSERT_TRUE(OpenKey()->Put("/s", "v").ok());
  auto s = OpenWithKeyFile(dir_, root_ + "/never-created.key");
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(os::Exists(root_ + "/never-created.key"));
}

TEST_F(SecretStoreTest, KeyFileReadableByOthersIsRefused) {
  const std::string loose = root_ + "/loose.key";
  WriteKeyFile(loose, 0644);
  auto s = OpenWithKeyFile(dir_, loose);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find(loose), std::string::npos);
  EXPECT_NE(s.status().message().find("chmod 600"), std::string::npos);
  ASSERT_EQ(::chmod(loose.c_str(), 0640), 0);
  EXPECT_EQ(OpenWithKeyFile(dir_, loose).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_EQ(::chmod(loose.c_str(), 0600), 0);
  EXPECT_TRUE(OpenWithKeyFile(dir_, loose).ok());
}

TEST_F(SecretStoreTest, KeyFileOfWrongSizeIsInvalid) {
  const std::string shortkey = root_ + "/short.key";
  ASSERT_TRUE(os::WriteFileAtomic(shortkey, "too short", 0600).ok());
  auto s = OpenWithKeyFile(dir_, shortkey);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find(shortkey), std::string::npos);
  EXPECT_EQ(s.status().message().find("too short"), std::string::npos);
}

TEST_F(SecretStoreTest, MalformedStoreFileIsDataLossNamingTheFile) {
  auto store = OpenKey();
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/secrets.json", "{not json", 0600).ok());
  auto got = store->Get("/x");
  EXPECT_EQ(got.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(got.status().message().find(dir_ + "/secrets.json"), std::string::npos);
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/secrets.json", R"({"format":1,"secrets":{"/x":[{"version":"one"}]}})",
                                  0600).ok());
  EXPECT_EQ(store->List().status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(store->Put("/y", "v").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(OpenWithKeyFile(dir_, key_).status().code(), StatusCode::kDataLoss);
}

TEST_F(SecretStoreTest, PassphraseStore) {
  const std::string passphrase = "a long and memorable passphrase";
  {
    auto s = OpenWithPassphrase(dir_, passphrase);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE((*s)->Put("/p", "passphrase-protected").ok());
  }
  json::object root = StoreJson();
  ASSERT_TRUE(root.contains("kdf"));
  json::object& kdf = root["kdf"].as_object();
  EXPECT_EQ(kdf["alg"], "argon2id13");
  EXPECT_EQ(B64Decode(std::string(kdf["salt"].as_string())).size(), 16u);
  EXPECT_EQ(StoreFileText().find(passphrase), std::string::npos);
  EXPECT_EQ(StoreFileText().find("passphrase-protected"), std::string::npos);

  auto again = OpenWithPassphrase(dir_, passphrase);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*(*again)->Get("/p"), "passphrase-protected");

  auto wrong = OpenWithPassphrase(dir_, "not the passphrase");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), "wrong passphrase for the secret store in " + dir_);

  // Key-file and passphrase stores do not open each other's directories.
  EXPECT_EQ(OpenWithKeyFile(dir_, key_).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(OpenWithPassphrase(dir_, "").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SecretStoreTest, KeyFileStoreIsNotAPassphraseStore) {
  ASSERT_TRUE(OpenKey()->Put("/k", "v").ok());
  EXPECT_EQ(OpenWithPassphrase(dir_, "whatever").status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(SecretStoreTest, GetOrCreateRandomIsIdempotentAcrossReopen) {
  std::string first;
  {
    auto store = OpenKey();
    auto r = store->GetOrCreateRandom("/cluster/munge-key", 32);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    first = *r;
    EXPECT_EQ(first.size(), 64u);
    EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(*store->GetOrCreateRandom("/cluster/munge-key", 32), first);
  }
  auto reopened = OpenKey();
  EXPECT_EQ(*reopened->GetOrCreateRandom("/cluster/munge-key", 32), first);
  EXPECT_EQ(*reopened->Get("/cluster/munge-key"), first);
  EXPECT_EQ(reopened->List()->at(0).versions, 1);
  EXPECT_NE(*reopened->GetOrCreateRandom("/cluster/other", 32), first);
}

TEST_F(SecretStoreTest, TwoStoresOnOneDirSeeEachOthersWrites) {
  auto a = OpenKey();
  auto b = OpenKey();
  ASSERT_TRUE(a->Put("/shared", "from-a").ok());
  EXPECT_EQ(*b->Get("/shared"), "from-a");
  EXPECT_EQ(*b->Put("/shared", "from-b"), 2);
  EXPECT_EQ(*a->Get("/shared"), "from-b");
  ASSERT_TRUE(b->Delete("/shared").ok());
  EXPECT_EQ(a->Get("/shared").status().code(), StatusCode::kNotFound);
}

// Several processes writing at once: the lock serializes read-modify-write, so no version is lost
// and every caller of GetOrCreateRandom gets the same value.
TEST_F(SecretStoreTest, ConcurrentProcessesDoNotLoseWrites) {
  OpenKey();  // create the key file first
  constexpr int kProcs = 4, kPuts = 5;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = OpenWithKeyFile(dir_, key_);
      if (!s.ok()) ::_exit(2);
      for (int i = 0; i < kPuts; ++i) {
        if (!(*s)->Put("/counter", std::to_string(p)).ok()) ::_exit(3);
      }
      auto r = (*s)->GetOrCreateRandom("/once", 16);
      if (!r.ok() || ::write(fds[1], r->data(), r->size()) != static_cast<ssize_t>(r->size())) ::_exit(4);
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  ::close(fds[1]);
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  std::string all;
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) all.append(buf, n);
  ::close(fds[0]);
  ASSERT_EQ(all.size(), 32u * kProcs);
  std::set<std::string> values;
  for (int p = 0; p < kProcs; ++p) values.insert(all.substr(p * 32, 32));
  EXPECT_EQ(values.size(), 1u);
  auto store = OpenKey();
  EXPECT_EQ(store->List()->at(0).versions, kProcs * kPuts);
  EXPECT_EQ(*store->Get("/once"), *values.begin());
}

}  // namespace
}  // namespace drover::secrets
