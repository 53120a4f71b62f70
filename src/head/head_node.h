// `drover headnode`: wires the head node's object graph and runs its loop.
//
// <state>/
//   pki/                  certificates (see credentials.h)
//   secrets/ secrets.key  the secret store, unless placed elsewhere
//   db/                   the five SQLite stores (see sqlite_store.h), unless on PostgreSQL
//   headnode.url          where it listens, written once it accepts connections
//   headnode.sock         the local endpoint (HTTP, authenticated by the caller's uid)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace drover::head {

struct HeadNodeConfig {
  std::string state_dir;
  std::string secrets_dir;       // default: <state>/secrets
  std::string secrets_key_file;  // default: <state>/secrets.key
  std::string secret_prefix = "/drover/";  // where its own secrets live in the store (see credentials.h)
  std::string socket_path;       // the local endpoint; default: <state>/headnode.sock
  std::string database_dir;      // the SQLite stores; default: <state>/db
  std::string cluster_name = "drover";
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;
  std::vector<std::string> dns_names;  // extra names for the server certificate
  bool auto_approve = false;           // the default node template approves nodes that join
  int heartbeat_ms = 1000;
  int heartbeat_timeout_ms = 10000;
  // PostgreSQL instead of SQLite: postgresql://user@host:port/prefix (see ParsePostgresUrl). Its
  // password comes from a file ("-": standard input) or from the secret store, never the URL.
  std::string database_url;
  std::string database_password_file;
  std::string database_password_secret;  // name in the head node's secret store
};

// Runs until SIGTERM or SIGINT, or until its state directory is removed (then exits 1); returns the
// process exit code.
int RunHeadNode(const HeadNodeConfig& config);

}  // namespace drover::head
