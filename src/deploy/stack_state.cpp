#include "deploy/stack_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/codec.h"
#include "os/files.h"

namespace drover::deploy {
namespace json = boost::json;

void StackState::AddEvent(StackEvent event) {
  events.push_back(std::move(event));
  if (events.size() > kMaxEvents) events.erase(events.begin(), events.end() - kMaxEvents);
}

ResourceState* StackState::Find(const std::string& name) {
  auto it = resources.find(name);
  return it == resources.end() ? nullptr : &it->second;
}

const ResourceState* StackState::Find(const std::string& name) const {
  auto it = resources.find(name);
  return it == resources.end() ? nullptr : &it->second;
}

std::string StackPaths::State() const { return os::JoinPath(dir, "state.json"); }
std::string StackPaths::Lock() const { return os::JoinPath(dir, "lock"); }
std::string StackPaths::Hosts() const { return os::JoinPath(dir, "hosts"); }
std::string StackPaths::SupervisorPid() const { return os::JoinPath(dir, "supervisor.pid"); }
std::string StackPaths::SupervisorLog() const { return os::JoinPath(dir, "supervisor.log"); }
std::string StackPaths::ResourceDir(const std::string& r) const { return os::JoinPath(dir, "resources/" + r); }
std::string StackPaths::InstanceDir(const std::string& i) const { return os::JoinPath(dir, "instances/" + i); }

std::string StackPaths::Context() const { return os::JoinPath(dir, "context.json"); }

namespace {
uint32_t Fnv1a(const std::string& s) {  // stable across builds and machines
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}
}  // namespace

StackPaths PathsFor(const std::string& drover_home, const std::string& stack) {
  StackPaths p{os::JoinPath(os::AbsolutePath(drover_home), "stacks/" + stack), ""};
  p.tag = fmt::format("{:08x}", Fnv1a(p.dir));
  return p;
}

Status ValidateStackName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 && name[0] != '-';
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  if (!ok) {
    return InvalidArgument(fmt::format(
        "stack name '{}' is not valid: use letters, digits, '-' and '_' (at most 63 characters)", name));
  }
  return Status::Ok();
}

namespace {

json::object InstanceToJson(const Instance& i) {
  return {{"id", i.id},         {"address", i.address}, {"dir", i.dir},
          {"started", i.started}, {"netns", i.netns},     {"link", i.link}};
}

std::string Str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

int64_t Int(const json::object& o, const char* key, int64_t fallback = 0) {
  auto* v = o.if_contains(key);
  return v && v->is_int64() ? v->as_int64() : fallback;
}

json::object Obj(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? v->as_object() : json::object();
}

}  // namespace

json::value ToJson(const StackState& s) {
  json::object resources;
  for (const auto& [name, r] : s.resources) {
    json::array deps, instances;
    for (const auto& d : r.dependencies) deps.emplace_back(d);
    for (const auto& i : r.instances) instances.emplace_back(InstanceToJson(i));
    resources[name] = json::object{{"type", r.type},
                                   {"status", r.status},
                                   {"reason", r.reason},
                                   {"properties", r.properties},
                                   {"attributes", r.attributes},
                                   {"dependencies", std::move(deps)},
                                   {"deletion_policy", r.deletion_policy == DeletionPolicy::kRetain ? "Retain" : "Delete"},
                                   {"instances", std::move(instances)},
                                   {"next_instance", r.next_instance}};
  }
  json::array events;
  for (const auto& e : s.events) {
    events.emplace_back(json::object{{"time", e.time}, {"resource", e.resource}, {"status", e.status}, {"reason", e.reason}});
  }
  return json::object{{"name", s.name},          {"template", s.template_path}, {"status", s.status},
                      {"provider", s.provider},
                      {"parameters", s.parameters}, {"resources", std::move(resources)}, {"outputs", s.outputs},
                      {"events", std::move(events)}, {"next_address", s.next_address},
                      {"network", json::object{{"bridge", s.bridge}, {"subnet", s.subnet}}}};
}

Result<StackState> StackStateFromJson(const json::value& v) {
  if (!v.is_object()) return DataLoss("the stack state is not a JSON object");
  const auto& o = v.as_object();
  StackState s;
  s.name = Str(o, "name");
  s.template_path = Str(o, "template");
  s.status = Str(o, "status");
  s.provider = Str(o, "provider").empty() ? "local" : Str(o, "provider");
  s.parameters = Obj(o, "parameters");
  s.outputs = Obj(o, "outputs");
  s.next_address = static_cast<int>(Int(o, "next_address", 1));
  s.bridge = Str(Obj(o, "network"), "bridge");
  s.subnet = Str(Obj(o, "network"), "subnet");
  for (const auto& [name, rv] : Obj(o, "resources")) {
    if (!rv.is_object()) return DataLoss(fmt::format("the stack state's resource '{}' is malformed", std::string(name)));
    const auto& ro = rv.as_object();
    ResourceState r;
    r.name = std::string(name);
    r.type = Str(ro, "type");
    r.status = Str(ro, "status");
    r.reason = Str(ro, "reason");
    r.properties = Obj(ro, "properties");
    r.attributes = Obj(ro, "attributes");
    r.deletion_policy = Str(ro, "deletion_policy") == "Retain" ? DeletionPolicy::kRetain : DeletionPolicy::kDelete;
    r.next_instance = static_cast<int>(Int(ro, "next_instance", 1));
    if (auto* deps = ro.if_contains("dependencies"); deps && deps->is_array()) {
      for (const auto& d : deps->as_array()) {
        if (d.is_string()) r.dependencies.emplace_back(d.as_string());
      }
    }
    if (auto* is = ro.if_contains("instances"); is && is->is_array()) {
      for (const auto& iv : is->as_array()) {
        if (!iv.is_object()) continue;
        const auto& io = iv.as_object();
        r.instances.push_back(
            {Str(io, "id"), Str(io, "address"), Str(io, "dir"), Int(io, "started"), Str(io, "netns"), Str(io, "link")});
      }
    }
    s.resources.emplace(r.name, std::move(r));
  }
  if (auto* es = o.if_contains("events"); es && es->is_array()) {
    for (const auto& ev : es->as_array()) {
      if (!ev.is_object()) continue;
      const auto& eo = ev.as_object();
      s.events.push_back({Int(eo, "time"), Str(eo, "resource"), Str(eo, "status"), Str(eo, "reason")});
    }
  }
  return s;
}

Result<StackState> LoadStackState(const StackPaths& paths) {
  if (!os::Exists(paths.State())) return NotFound(fmt::format("no stack state at {}", paths.State()));
  ASSIGN_OR_RETURN(std::string text, os::ReadFile(paths.State()));
  ASSIGN_OR_RETURN(json::value v, ParseJson(text));
  auto s = StackStateFromJson(v);
  if (!s.ok()) return s.status().WithContext(paths.State());
  return s;
}

Status SaveStackState(const StackPaths& paths, const StackState& state) {
  RETURN_IF_ERROR(os::MakeDirs(paths.dir, 0755));
  return os::WriteFileAtomic(paths.State(), json::serialize(ToJson(state)) + "\n", 0600);
}

Result<StackLock> StackLock::Acquire(const StackPaths& paths, const std::string& holder, bool wait) {
  // The stack's directory is readable by all (its hosts file is how members' commands find the head
  // node); what is secret in it (state.json, instance and resource directories) is 0600/0700.
  RETURN_IF_ERROR(os::MakeDirs(paths.dir, 0755));
  int fd = ::open(paths.Lock().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable(fmt::format("cannot open {}: {}", paths.Lock(), std::strerror(errno)));
  if (::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    int err = errno;
    std::string who;
    char buf[256] = {};
    if (::pread(fd, buf, sizeof buf - 1, 0) > 0) who = buf;
    while (!who.empty() && (who.back() == '\n' || who.back() == '\0')) who.pop_back();
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return FailedPrecondition(fmt::format("stack is busy: {} holds {}", who.empty() ? "another process" : who,
                                            paths.Lock()));
    }
    return Unavailable(fmt::format("cannot lock {}: {}", paths.Lock(), std::strerror(err)));
  }
  std::string me = fmt::format("{} (pid {})\n", holder, ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The record of the holder is only informative; the lock itself is held.
  }
  return StackLock(fd);
}

StackLock::StackLock(StackLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

StackLock& StackLock::operator=(StackLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

StackLock::~StackLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

std::string LoopbackAddress(const std::string& key, int n) {
  uint32_t h = Fnv1a(key);
  int second = 64 + static_cast<int>(h % 128);    // 127.64.0.0 - 127.191.255.255
  int block = static_cast<int>((h / 128) % 10);   // 25 values of the third octet each
  return fmt::format("127.{}.{}.{}", second, block * 25 + (n / 250) % 25, 1 + n % 250);
}

}  // namespace drover::deploy
