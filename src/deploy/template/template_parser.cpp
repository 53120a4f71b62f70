// The sections of a template (Parameters, Conditions, Resources, Outputs) read into a Template, each
// malformed piece reported with its place. Cross-references are checked afterwards (template_checks.cpp).
#include <algorithm>
#include <regex>

#include "deploy/template/template_internal.h"

namespace drover::deploy {

using namespace template_internal;
namespace json = boost::json;

namespace template_internal {
namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

bool IsLogicalName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

// The long form of !Condition, {Condition: Name}, where a condition is expected: a condition's definition
// and the items of !And, !Or and !Not. (Elsewhere a key named Condition is an ordinary key.)
void NormalizeConditionForm(Node& n) {
  if (n.kind == Node::Kind::kMapping && n.entries.size() == 1 && n.entries[0].first == "Condition") {
    Node fn;
    fn.kind = Node::Kind::kFunction;
    fn.function = "Condition";
    fn.where = n.where;
    fn.key_where = n.key_where;
    fn.items.push_back(std::move(n.entries[0].second));
    n = std::move(fn);
  }
}

void NormalizeLogicalOperands(Node& n) {
  bool logical = n.IsFunction("Fn::And") || n.IsFunction("Fn::Or") || n.IsFunction("Fn::Not");
  if (logical && n.items[0].kind == Node::Kind::kSequence) {
    for (auto& item : n.items[0].items) NormalizeConditionForm(item);
  }
  for (auto& item : n.items) NormalizeLogicalOperands(item);
  for (auto& [_, value] : n.entries) NormalizeLogicalOperands(value);
}

class SectionParser {
 public:
  explicit SectionParser(ParseState& s) : s_(s), t_(s.t), d_(s.diags) {}

  void Run(const Node& root) {
    if (root.kind != Node::Kind::kMapping) {
      d_.Add(root.where, "a template is a mapping with at least a Resources section");
      return;
    }
    static const std::vector<std::string> kSections = {"AWSTemplateFormatVersion", "DroverTemplateFormatVersion",
                                                       "Description", "Metadata", "Parameters", "Mappings",
                                                       "Conditions", "Resources", "Outputs"};
    for (const auto& [key, value] : root.entries) {
      if (key == "AWSTemplateFormatVersion") {
        Version(key, value, "2010-09-09");
      } else if (key == "DroverTemplateFormatVersion") {
        Version(key, value, "1");
      } else if (key == "Description") {
        t_.description = Text(key, value);
      } else if (key == "Metadata") {
        TemplateMetadata(value);
      } else if (key == "Parameters") {
        for (const auto& [name, p] : Entries(key, value)) Parameter(name, p);
      } else if (key == "Mappings") {
        for (const auto& [name, m] : Entries(key, value)) Mapping(name, m);
      } else if (key == "Conditions") {
        for (const auto& [name, c] : Entries(key, value)) Condition(name, c);
      } else if (key == "Resources") {
        const auto& entries = Entries(key, value);
        if (entries.empty() && value.kind != Node::Kind::kFunction) d_.Add(value.where, "Resources: a template needs at least one resource");
        for (const auto& [name, r] : entries) Resource(name, r);
      } else if (key == "Outputs") {
        for (const auto& [name, o] : Entries(key, value)) Output(name, o);
      } else {
        d_.Add(value.where, "unknown top-level section '" + key + "' (allowed: " + Join(kSections) + ")");
      }
    }
    if (!root.Find("Resources")) d_.Add(root.where, "the template has no Resources section");
  }

 private:
  const std::vector<std::pair<std::string, Node>>& Entries(const std::string& path, const Node& n) {
    static const std::vector<std::pair<std::string, Node>> kNone;
    if (n.kind == Node::Kind::kMapping) return n.entries;
    if (n.kind != Node::Kind::kNull) d_.Add(n.where, path + ": expected a mapping");
    return kNone;
  }

  // A literal scalar's text; a problem (and "") for anything else.
  std::string Text(const std::string& path, const Node& n) {
    if (n.kind == Node::Kind::kScalar) return n.scalar;
    d_.Add(n.where, path + ": expected a literal string" + (n.kind == Node::Kind::kFunction ? " (intrinsic functions are not allowed here)" : ""));
    return "";
  }

  // Metadata is free-form and never evaluated, except Metadata.Drover: what Drover itself reads.
  void TemplateMetadata(const Node& n) {
    if (n.kind != Node::Kind::kMapping) return;
    const Node* drover = n.Find("Drover");
    if (!drover) return;
    if (drover->kind != Node::Kind::kMapping) {
      d_.Add(drover->where, "Metadata.Drover: expected a mapping such as {Provider: netns}");
      return;
    }
    CheckKeys("Metadata.Drover", *drover, {"Provider"});
    if (const Node* p = drover->Find("Provider")) {
      t_.provider = Text("Metadata.Drover.Provider", *p);
      t_.provider_where = p->where;
      if (p->kind == Node::Kind::kScalar && t_.provider.empty()) {
        d_.Add(p->where, "Metadata.Drover.Provider: name the provider the template is written for, e.g. netns");
      }
    }
  }

  void Version(const std::string& key, const Node& n, const std::string& want) {
    std::string v = Text(key, n);
    if (n.kind == Node::Kind::kScalar && v != want) d_.Add(n.where, key + ": unsupported version '" + v + "' (supported: " + want + ")");
  }

  bool Name(const std::string& path, const std::string& name, const Node& n) {
    if (IsLogicalName(name)) return true;
    d_.Add(n.key_where, path + ": names may hold only letters and digits");
    return false;
  }

  void CheckKeys(const std::string& path, const Node& n, const std::vector<std::string>& allowed) {
    for (const auto& [key, value] : n.entries) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        d_.Add(value.where, path + ": unknown key '" + key + "' (allowed: " + Join(allowed) + ")");
      }
    }
  }

  void Parameter(const std::string& name, const Node& n) {
    const std::string path = "Parameters." + name;
    if (!Name(path, name, n)) return;
    if (IsPseudoParameter(name)) d_.Add(n.key_where, path + ": '" + name + "' is a pseudo parameter");
    if (n.kind != Node::Kind::kMapping) {
      d_.Add(n.key_where, path + ": expected a mapping with at least Type");
      return;
    }
    CheckKeys(path, n, {"Type", "Default", "AllowedValues", "AllowedPattern", "MinValue", "MaxValue", "MinLength",
                        "MaxLength", "Description", "ConstraintDescription", "NoEcho"});
    deploy::Parameter p;
    p.name = name;
    p.where = n.key_where;
    bool ok = true;
    if (const Node* type = n.Find("Type")) {
      std::string ty = Text(path + ".Type", *type);
      if (ty == "String") p.type = ParameterType::kString;
      else if (ty == "Number") p.type = ParameterType::kNumber;
      else if (ty == "CommaDelimitedList") p.type = ParameterType::kCommaDelimitedList;
      else {
        ok = false;
        if (type->kind == Node::Kind::kScalar) d_.Add(type->where, path + ".Type: unknown parameter type '" + ty + "' (known: String, Number, CommaDelimitedList)");
      }
    } else {
      ok = false;
      d_.Add(n.key_where, path + ": missing Type (String, Number or CommaDelimitedList)");
    }
    if (const Node* v = n.Find("Description")) p.description = Text(path + ".Description", *v);
    if (const Node* v = n.Find("NoEcho")) {
      json::value b = ScalarValue(*v);
      if (v->kind == Node::Kind::kScalar && (v->scalar == "true" || v->scalar == "false")) p.no_echo = v->scalar == "true";
      else if (b.is_bool()) p.no_echo = b.get_bool();
      else d_.Add(v->where, path + ".NoEcho: expected true or false");
    }
    if (const Node* v = n.Find("AllowedValues")) {
      if (v->kind != Node::Kind::kSequence || v->items.empty()) {
        d_.Add(v->where, path + ".AllowedValues: expected a non-empty list of values");
      } else {
        for (const auto& item : v->items) p.allowed_values.push_back(Text(path + ".AllowedValues", item));
      }
    }
    if (const Node* v = n.Find("AllowedPattern")) {
      p.allowed_pattern = Text(path + ".AllowedPattern", *v);
      try {
        std::regex re(p.allowed_pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        d_.Add(v->where, path + ".AllowedPattern: not a valid regular expression: " + e.what());
      }
    }
    auto number = [&](const char* key, std::optional<double>& out) {
      const Node* v = n.Find(key);
      if (!v) return;
      auto x = v->kind == Node::Kind::kScalar ? ParseNumber(v->scalar) : std::nullopt;
      if (!x) d_.Add(v->where, path + "." + key + ": expected a number");
      else out = *x;
    };
    auto length = [&](const char* key, std::optional<size_t>& out) {
      const Node* v = n.Find(key);
      if (!v) return;
      auto x = v->kind == Node::Kind::kScalar ? ParseInteger(v->scalar) : std::nullopt;
      if (!x || *x < 0) d_.Add(v->where, path + "." + key + ": expected a non-negative integer");
      else out = static_cast<size_t>(*x);
    };
    number("MinValue", p.min_value);
    number("MaxValue", p.max_value);
    length("MinLength", p.min_length);
    length("MaxLength", p.max_length);
    if (ok) {
      bool is_number = p.type == ParameterType::kNumber;
      for (const char* key : {"MinLength", "MaxLength", "AllowedPattern"}) {
        if (is_number && n.Find(key)) d_.Add(n.Find(key)->where, path + "." + key + ": applies only to String and CommaDelimitedList parameters");
      }
      for (const char* key : {"MinValue", "MaxValue"}) {
        if (!is_number && n.Find(key)) d_.Add(n.Find(key)->where, path + "." + key + ": applies only to Number parameters");
      }
      if (is_number) {
        for (const auto& a : p.allowed_values) {
          if (!ParseNumber(a)) d_.Add(n.Find("AllowedValues")->where, path + ".AllowedValues: '" + a + "' is not a number");
        }
      }
    }
    if (p.min_value && p.max_value && *p.min_value > *p.max_value) d_.Add(n.key_where, path + ": MinValue is greater than MaxValue");
    if (p.min_length && p.max_length && *p.min_length > *p.max_length) d_.Add(n.key_where, path + ": MinLength is greater than MaxLength");
    if (const Node* v = n.Find("Default")) {
      if (v->kind != Node::Kind::kScalar) {
        d_.Add(v->where, path + ".Default: expected a literal value" +
                             std::string(p.type == ParameterType::kCommaDelimitedList ? " (a list is written \"a,b,c\")" : ""));
      } else {
        p.default_value = v->scalar;
        if (ok) {
          auto checked = CheckParameterValue(p, v->scalar);
          if (!checked.ok()) d_.Add(v->where, path + ".Default: " + checked.status().message());
        }
      }
    }
    if (t_.FindParameter(name)) return;  // a duplicate key, already reported
    t_.parameters.push_back(std::move(p));
  }

  // Two levels of keys, then literal values (a scalar or a list of scalars).
  void Mapping(const std::string& name, const Node& n) {
    const std::string path = "Mappings." + name;
    if (!Name(path, name, n)) return;
    bool ok = true;
    if (n.kind != Node::Kind::kMapping || n.entries.empty()) {
      d_.Add(n.key_where, path + ": expected a mapping of keys to mappings of values");
      return;
    }
    for (const auto& [top, second] : n.entries) {
      if (second.kind != Node::Kind::kMapping || second.entries.empty()) {
        d_.Add(second.where, path + "." + top + ": expected a mapping of keys to values");
        ok = false;
        continue;
      }
      for (const auto& [key, value] : second.entries) {
        bool literal = value.kind == Node::Kind::kScalar ||
                       (value.kind == Node::Kind::kSequence &&
                        std::all_of(value.items.begin(), value.items.end(), [](const Node& i) { return i.kind == Node::Kind::kScalar; }));
        if (!literal) {
          d_.Add(value.where, path + "." + top + "." + key + ": expected a literal value or a list of them");
          ok = false;
        }
      }
    }
    if (ok) t_.mappings.emplace_back(name, n);
    else t_.mappings.emplace_back(name, Node{});  // known by name, so uses are not reported twice
  }

  void Condition(const std::string& name, const Node& n) {
    if (!Name("Conditions." + name, name, n)) return;
    Node c = n;
    NormalizeConditionForm(c);
    t_.conditions.emplace_back(name, std::move(c));
  }

  void Resource(const std::string& name, const Node& n) {
    const std::string path = "Resources." + name;
    if (!Name(path, name, n)) return;
    if (n.kind != Node::Kind::kMapping) {
      d_.Add(n.key_where, path + ": expected a mapping with at least Type");
      return;
    }
    CheckKeys(path, n, {"Type", "Properties", "DependsOn", "Condition", "CreationPolicy", "DeletionPolicy",
                        "UpdateReplacePolicy", "Metadata"});
    deploy::Resource r;
    r.name = name;
    r.where = n.key_where;
    if (const Node* type = n.Find("Type")) {
      r.type = Text(path + ".Type", *type);
      if (type->kind == Node::Kind::kScalar) {
        if (const ResourceTypeSchema* schema = s_.registry->Find(r.type)) {
          t_.types.emplace(r.type, *schema);
        } else {
          d_.Add(type->where, path + ": unknown resource type '" + r.type + "' (known: " + Join(s_.registry->Types()) + ")");
        }
      }
    } else {
      d_.Add(n.key_where, path + ": missing Type");
    }
    if (const Node* props = n.Find("Properties")) {
      if (props->kind == Node::Kind::kMapping || props->kind == Node::Kind::kNull) r.properties = *props;
      else d_.Add(props->where, path + ".Properties: expected a mapping");
    }
    if (const Node* deps = n.Find("DependsOn")) {
      auto& where = s_.depends_on_where[name];
      auto add = [&](const Node& item) {
        if (item.kind != Node::Kind::kScalar || item.scalar.empty()) {
          d_.Add(item.where, path + ".DependsOn: expected a resource name");
          return;
        }
        r.depends_on.push_back(item.scalar);
        where.push_back(item.where);
      };
      if (deps->kind == Node::Kind::kSequence) {
        for (const auto& item : deps->items) add(item);
      } else {
        add(*deps);
      }
    }
    if (const Node* c = n.Find("Condition")) {
      r.condition = Text(path + ".Condition", *c);
      s_.condition_where[path] = c->where;
    }
    if (const Node* c = n.Find("CreationPolicy")) r.creation_policy = CreationPolicyOf(path + ".CreationPolicy", *c);
    if (const Node* c = n.Find("DeletionPolicy")) r.deletion_policy = Policy(path + ".DeletionPolicy", *c);
    if (const Node* c = n.Find("UpdateReplacePolicy")) r.update_replace_policy = Policy(path + ".UpdateReplacePolicy", *c);
    if (const Node* m = n.Find("Metadata")) r.metadata = *m;
    t_.resources.push_back(std::move(r));
  }

  std::optional<DeletionPolicy> Policy(const std::string& path, const Node& n) {
    std::string v = Text(path, n);
    if (v == "Retain") return DeletionPolicy::kRetain;
    if (v == "Delete") return DeletionPolicy::kDelete;
    if (n.kind == Node::Kind::kScalar) d_.Add(n.where, path + ": '" + v + "' is not supported (only Retain or Delete)");
    return std::nullopt;
  }

  std::optional<deploy::CreationPolicy> CreationPolicyOf(const std::string& path, const Node& n) {
    if (n.kind != Node::Kind::kMapping) {
      d_.Add(n.where, path + ": expected {ResourceSignal: {Count, Timeout}}");
      return std::nullopt;
    }
    CheckKeys(path, n, {"ResourceSignal"});
    const Node* signal = n.Find("ResourceSignal");
    if (!signal) {
      d_.Add(n.where, path + ": missing ResourceSignal");
      return std::nullopt;
    }
    const std::string spath = path + ".ResourceSignal";
    if (signal->kind != Node::Kind::kMapping) {
      d_.Add(signal->where, spath + ": expected {Count, Timeout}");
      return std::nullopt;
    }
    CheckKeys(spath, *signal, {"Count", "Timeout"});
    deploy::CreationPolicy policy;
    policy.timeout_ms = 5 * 60 * 1000;
    bool ok = true;
    if (const Node* count = signal->Find("Count")) {
      auto c = count->kind == Node::Kind::kScalar ? ParseInteger(count->scalar) : std::nullopt;
      if (!c || *c < 1 || *c > 100000) {
        d_.Add(count->where, spath + ".Count: expected a positive integer" +
                                 (count->kind == Node::Kind::kScalar ? ", got '" + count->scalar + "'" : std::string()));
        ok = false;
      } else {
        policy.count = static_cast<int>(*c);
      }
    }
    if (const Node* timeout = signal->Find("Timeout")) {
      auto ms = timeout->kind == Node::Kind::kScalar ? ParseIsoDuration(timeout->scalar)
                                                     : Result<int64_t>(InvalidArgument("expected an ISO 8601 duration such as PT15M"));
      if (!ms.ok()) {
        d_.Add(timeout->where, spath + ".Timeout: " + ms.status().message());
        ok = false;
      } else {
        policy.timeout_ms = *ms;
      }
    }
    if (!ok) return std::nullopt;
    return policy;
  }

  void Output(const std::string& name, const Node& n) {
    const std::string path = "Outputs." + name;
    if (!Name(path, name, n)) return;
    if (n.kind != Node::Kind::kMapping) {
      d_.Add(n.key_where, path + ": expected a mapping with Value");
      return;
    }
    CheckKeys(path, n, {"Value", "Description", "Condition", "Export"});
    if (const Node* v = n.Find("Export")) {
      d_.Add(v->where, path + ".Export: not supported (Drover stacks do not import each other's outputs)");
    }
    deploy::Output o;
    o.name = name;
    o.where = n.key_where;
    if (const Node* v = n.Find("Value")) o.value = *v;
    else d_.Add(n.key_where, path + ": missing Value");
    if (const Node* v = n.Find("Description")) o.description = Text(path + ".Description", *v);
    if (const Node* v = n.Find("Condition")) {
      o.condition = Text(path + ".Condition", *v);
      s_.condition_where[path] = v->where;
    }
    t_.outputs.push_back(std::move(o));
  }

  ParseState& s_;
  Template& t_;
  Diagnostics& d_;
};

}  // namespace

void ParseSections(const Node& root, ParseState& state) { SectionParser(state).Run(root); }

}  // namespace template_internal

Result<Template> ParseTemplate(std::string_view text, const std::string& file, const ResourceTypeRegistry& types) {
  ParseState state;
  state.t.file = file;
  state.registry = &types;
  std::optional<Node> root = LoadYaml(text, file, state.diags);
  if (!root) return state.diags.ToStatus();
  NormalizeLogicalOperands(*root);
  ParseSections(*root, state);
  CheckTemplate(state);
  if (!state.diags.empty()) return state.diags.ToStatus();
  return std::move(state.t);
}

}  // namespace drover::deploy
