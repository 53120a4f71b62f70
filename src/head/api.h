// The REST API under /api/v1/, served on the head node's loop. Every call except the join and the
// health check needs a member certificate issued by the cluster CA.
//
//   GET  /healthz                          readiness (no authentication)
//   POST /api/v1/join                      {token, name, hostname, csr} -> node certificate
//   GET  /api/v1/cluster                   cluster summary
//   POST /api/v1/jobs                      submit (a job spec) -> {id}
//   GET  /api/v1/jobs[?all=1]              jobs not yet ended (all: also ended ones in memory)
//   GET  /api/v1/jobs/{id}[?tasks=all|none] one job, with its tasks
//   GET  /api/v1/jobs/{id}/wait?timeout_ms=N  answers when the job ends, or at the timeout
//   POST /api/v1/jobs/{id}/cancel
//   GET  /api/v1/nodes, /api/v1/nodes/{name}
//   POST /api/v1/nodes/{name}/{approve|online|offline|drain}   approve takes {template}
//   GET  /api/v1/node-templates, POST /api/v1/node-templates
//   GET  /metrics                          Prometheus text
#pragma once

#include <string>

#include "head/cluster.h"
#include "head/committer.h"
#include "net/event_loop.h"
#include "net/http.h"
#include "net/pki.h"
#include "store/store.h"

namespace drover::head {

struct ApiContext {
  std::string cluster_name;
  pki::Identity ca;
  std::string join_token;
};

class Api {
 public:
  Api(ApiContext context, Cluster& cluster, Committer& committer, Store& store, net::EventLoop& loop)
      : context_(std::move(context)), cluster_(cluster), committer_(committer), store_(store), loop_(loop) {}

  void Handle(const net::HttpRequest& request, net::Responder respond);

 private:
  void Join(const net::HttpRequest& r, net::Responder respond);
  void SubmitJob(const net::HttpRequest& r, net::Responder respond);
  void GetJob(JobId id, const net::HttpRequest& r, net::Responder respond);
  void WaitJob(JobId id, const net::HttpRequest& r, net::Responder respond);
  void NodeAction(const std::string& name, const std::string& action, const net::HttpRequest& r,
                  net::Responder respond);
  net::HttpResponse ClusterSummary();
  net::HttpResponse Metrics();

  ApiContext context_;
  Cluster& cluster_;
  Committer& committer_;
  Store& store_;
  net::EventLoop& loop_;
};

}  // namespace drover::head
