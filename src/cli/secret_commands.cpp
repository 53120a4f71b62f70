// `drover secret put|get|list|delete`: the encrypted parameter store on this machine.
// Values come from standard input (or a prompt without echo), never from an argument.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "net/http.h"
#include "net/cluster_context.h"
#include "os/files.h"
#include "secrets/secret_store.h"

namespace drover::cli {

SecretStoreLocation DefaultSecretStore() {
  std::string home = net::DroverHome();
  return {os::JoinPath(home, "secrets"), os::JoinPath(home, "secrets.key"), ""};
}

Result<std::unique_ptr<secrets::SecretStore>> OpenSecretStore(const SecretStoreLocation& where) {
  if (!where.passphrase_file.empty()) {
    ASSIGN_OR_RETURN(std::string passphrase, os::ReadFile(where.passphrase_file));
    while (!passphrase.empty() && (passphrase.back() == '\n' || passphrase.back() == '\r')) passphrase.pop_back();
    return secrets::OpenWithPassphrase(where.dir, passphrase);
  }
  return secrets::OpenWithKeyFile(where.dir, where.key_file);
}

namespace {

// Reads the value: a prompt without echo on a terminal, else all of standard input (one trailing
// newline removed, as `echo value |` adds one).
Result<std::string> ReadValue(const std::string& name) {
  std::string value;
  if (::isatty(STDIN_FILENO)) {
    std::fprintf(stderr, "Value for %s: ", name.c_str());
    termios old{};
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::getline(std::cin, value);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  } else {
    value.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (!value.empty() && value.back() == '\n') value.pop_back();
  }
  if (value.empty()) return InvalidArgument("no value given on standard input");
  return value;
}

}  // namespace

namespace {

void PrintSecretList(const std::vector<secrets::SecretInfo>& list, const std::vector<std::string>& updated) {
  std::cout << fmt::format("{:<48} {:>7} {:>8}  {}\n", "NAME", "VERSION", "VERSIONS", "UPDATED");
  for (size_t i = 0; i < list.size(); ++i) {
    std::cout << fmt::format("{:<48} {:>7} {:>8}  {}\n", list[i].name, list[i].latest_version, list[i].versions,
                             updated[i]);
  }
}

// Through the head node: Administrators only, and audited there.
int SecretThroughHead(const std::string& action, const std::string& name, std::optional<int> version) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  std::string target = "/api/v1/secrets" + net::PercentEncode(name);
  if (action == "put") {
    auto value = ReadValue(name);
    if (!value.ok()) return Fail(value.status().message());
    auto r = api->Post(target, boost::json::object{{"value", *value}});
    if (!r.ok()) return Fail(r.status().message());
    std::cout << fmt::format("{} version {}\n", name, r->at("version").to_number<int64_t>());
    return 0;
  }
  if (action == "get") {
    auto r = api->Get(version ? fmt::format("{}?version={}", target, *version) : target);
    if (!r.ok()) return Fail(r.status().message());
    std::cout << std::string(r->at("value").as_string());
    if (::isatty(STDOUT_FILENO)) std::cout << "\n";
    return 0;
  }
  if (action == "delete") {
    auto r = api->Delete(target);
    if (!r.ok()) return Fail(r.status().message());
    std::cout << fmt::format("{} deleted\n", name);
    return 0;
  }
  auto r = api->Get("/api/v1/secrets");
  if (!r.ok()) return Fail(r.status().message());
  std::vector<secrets::SecretInfo> list;
  std::vector<std::string> updated;
  for (const auto& s : r->at("secrets").as_array()) {
    list.push_back({std::string(s.at("name").as_string()), static_cast<int>(s.at("version").to_number<int64_t>()),
                    static_cast<int>(s.at("versions").to_number<int64_t>()), 0});
    updated.emplace_back(s.at("updated").as_string());
  }
  PrintSecretList(list, updated);
  return 0;
}

}  // namespace

int SecretCommand(const std::string& action, const std::string& name, std::optional<int> version,
                  const SecretStoreLocation& where, bool local) {
  if (action != "list") {
    if (Status st = secrets::ValidateSecretName(name); !st.ok()) return Fail(st.message());
  }
  if (!local) return SecretThroughHead(action, name, version);
  auto store = OpenSecretStore(where);
  if (!store.ok()) return Fail(store.status().message());
  if (action == "put") {
    auto value = ReadValue(name);
    if (!value.ok()) return Fail(value.status().message());
    auto v = (*store)->Put(name, *value);
    if (!v.ok()) return Fail(v.status().message());
    std::cout << fmt::format("{} version {}\n", name, *v);
    return 0;
  }
  if (action == "get") {
    auto value = (*store)->Get(name, version);
    if (!value.ok()) return Fail(value.status().message());
    std::cout << *value;
    if (::isatty(STDOUT_FILENO)) std::cout << "\n";
    return 0;
  }
  if (action == "delete") {
    Status st = (*store)->Delete(name);
    if (!st.ok()) return Fail(st.message());
    std::cout << fmt::format("{} deleted\n", name);
    return 0;
  }
  auto list = (*store)->List();
  if (!list.ok()) return Fail(list.status().message());
  std::vector<std::string> updated;
  for (const auto& s : *list) updated.push_back(FormatTime(s.updated));
  PrintSecretList(*list, updated);
  return 0;
}

}  // namespace drover::cli
