// The REST API under /api/v1/, served on the head node's loop. Every call except the join and the
// health check needs the current, unrevoked certificate of a member; what the member may do is
// decided by their role (User: own jobs; JobAdministrator: all jobs; Administrator: everything).
// Denials are 403 with a message; missing or bad credentials are 401. Changes are audited.
//
//   GET  /healthz                          readiness (no authentication)
//   POST /api/v1/join                      {token, name, hostname, csr} -> node certificate
//   GET  /api/v1/cluster                   cluster summary
//   POST /api/v1/jobs                      submit (a job spec) -> {id}
//   GET  /api/v1/jobs[?all=1]              jobs not yet ended (all: also ended ones in memory)
//   GET  /api/v1/jobs/{id}[?tasks=all|none] one job, with its tasks
//   GET  /api/v1/jobs/{id}/wait?timeout_ms=N  answers when the job ends, or at the timeout
//   POST /api/v1/jobs/{id}/cancel
//   POST /api/v1/jobs/{id}/{hold|release|requeue}   -> the job's summary
//   GET  /api/v1/nodes, /api/v1/nodes/{name}
//   POST /api/v1/nodes/{name}/{approve|online|offline|drain}   approve takes {template}
//   GET  /api/v1/node-templates, POST /api/v1/node-templates
//   GET  /api/v1/members, POST /api/v1/members {name, role, csr} -> credential
//   POST /api/v1/members/{name}/remove     revokes the member's credential at once
//   GET  /api/v1/audit?since_ms=&limit=    the audit log
//   GET  /api/v1/secrets                   names and versions (Administrator)
//   GET|POST|DELETE /api/v1/secrets/{name}  read (?version=N), write {value}, delete (Administrator;
//                                           audited; names under /drover/ are refused to everyone)
//   POST /api/v1/exec {job, task, token, host, command} -> {id}   (the task's token, no member)
//   POST /api/v1/exec/{id}/status|kill {token}               a multi-node task's remote process
//   GET  /metrics                          Prometheus text
#pragma once

#include <string>

#include "head/cluster.h"
#include "head/committer.h"
#include "head/members.h"
#include "head/pass_times.h"
#include "net/event_loop.h"
#include "net/http.h"
#include "net/pki.h"
#include "secrets/secret_store.h"
#include "store/store.h"

namespace drover::head {

struct ApiContext {
  std::string cluster_name;
  pki::Identity ca;
  std::string join_token;
  const PassTimes* pass_times = nullptr;  // scheduling pass durations for /metrics, when measured
};

class Api {
 public:
  Api(ApiContext context, Cluster& cluster, Members& members, Committer& committer, Store& store,
      secrets::SecretStore& secrets, net::EventLoop& loop)
      : context_(std::move(context)), cluster_(cluster), members_(members), committer_(committer), store_(store),
        secrets_(secrets), loop_(loop) {}

  void Handle(const net::HttpRequest& request, net::Responder respond);

 private:
  void Join(const net::HttpRequest& r, net::Responder respond);
  void SubmitJob(const Principal& who, const net::HttpRequest& r, net::Responder respond);
  void JobTemplates(const Principal& who, const net::HttpRequest& r, const std::vector<std::string>& parts,
                    net::Responder respond);
  void SchedulerSettings(const Principal& who, const net::HttpRequest& r, net::Responder respond);
  void GetJob(JobId id, const net::HttpRequest& r, net::Responder respond);
  void WaitJob(JobId id, const net::HttpRequest& r, net::Responder respond);
  void JobControl(const Principal& who, JobId id, const std::string& action, net::Responder respond);
  void Exec(const net::HttpRequest& r, net::Responder respond);
  void NodeAction(const Principal& who, const std::string& name, const std::string& action,
                  const net::HttpRequest& r, net::Responder respond);
  void AddMember(const Principal& who, const net::HttpRequest& r, net::Responder respond);
  void Secrets(const Principal& who, const net::HttpRequest& r, net::Responder respond);
  void Accounting(const Principal& who, const net::HttpRequest& r, bool report, net::Responder respond);
  // OK when `who` may see and cancel the job: their own, or any for JobAdministrators and up.
  Status MayManageJob(const Principal& who, JobId id);
  net::HttpResponse ClusterSummary();
  net::HttpResponse Metrics();

  ApiContext context_;
  Cluster& cluster_;
  Members& members_;
  Committer& committer_;
  Store& store_;
  secrets::SecretStore& secrets_;
  net::EventLoop& loop_;
};

}  // namespace drover::head
