#include "head/credentials.h"

#include <stdlib.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "os/files.h"

namespace drover::head {
namespace {

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/drover-creds-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto store = secrets::OpenWithKeyFile(dir_ + "/secrets", dir_ + "/secrets.key");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Result<HeadCredentials> Prepare(const std::string& head, const std::string& prefix) {
    return PrepareCredentials(dir_ + "/" + head, head, {"localhost"}, {"127.0.0.1"}, *store_, prefix);
  }
  std::string Ca(const std::string& head) { return *os::ReadFile(dir_ + "/" + head + "/pki/ca.crt"); }

  std::string dir_;
  std::unique_ptr<secrets::SecretStore> store_;
};

TEST_F(CredentialsTest, HeadNodesWithTheirOwnPrefixesNeverShareACaKey) {
  auto a = Prepare("a", StackSecretPrefix("a"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = Prepare("b", StackSecretPrefix("b"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_NE(a->ca.cert_pem, b->ca.cert_pem);
  EXPECT_NE(a->join_token, b->join_token);
  // Each starts again with its own CA and token.
  auto again = Prepare("a", StackSecretPrefix("a"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->ca.cert_pem, a->ca.cert_pem);
  EXPECT_EQ(again->join_token, a->join_token);
  EXPECT_TRUE(store_->Get("/drover/stacks/a/cluster-ca/private-key").ok());
  EXPECT_TRUE(store_->Get("/drover/stacks/b/join-token").ok());
  EXPECT_EQ(store_->Get(CaKeySecretName(kDefaultSecretPrefix)).status().code(), StatusCode::kNotFound);
}

// Two clusters made under the default names, as older versions made every stack's: the second one's
// key replaced the first one's. With prefixes of their own, each finds its key among the versions.
TEST_F(CredentialsTest, CasMadeUnderTheSharedNameMoveToTheirPrefixes) {
  ASSERT_TRUE(Prepare("old1", kDefaultSecretPrefix).ok());
  ASSERT_TRUE(Prepare("old2", kDefaultSecretPrefix).ok());
  // The latest version is old2's; old1 finds its own among the earlier versions and puts it back.
  auto shared = Prepare("old1", kDefaultSecretPrefix);
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  EXPECT_EQ(shared->ca.cert_pem, Ca("old1"));

  auto one = Prepare("old1", StackSecretPrefix("old1"));
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->ca.cert_pem, Ca("old1"));
  auto two = Prepare("old2", StackSecretPrefix("old2"));
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(two->ca.cert_pem, Ca("old2"));
  // Moved for good: the per-stack names hold them now.
  auto key = store_->Get(CaKeySecretName(StackSecretPrefix("old1")));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, one->ca.key_pem);
}

TEST_F(CredentialsTest, AKeyThatFitsNoVersionSaysWhatToDo) {
  ASSERT_TRUE(Prepare("lost", StackSecretPrefix("lost")).ok());
  ASSERT_TRUE(store_->Delete(CaKeySecretName(StackSecretPrefix("lost"))).ok());
  auto r = Prepare("lost", StackSecretPrefix("lost"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("start afresh by removing"), std::string::npos) << r.status().message();
  EXPECT_FALSE(Prepare("x", "no-slash").ok());
}

}  // namespace
}  // namespace drover::head
