// The checks that need the whole template: what Ref, GetAtt, Sub, If and Condition name; the shapes of
// intrinsic arguments; properties against their type's schema; DependsOn; cycles among resources and
// among conditions; dynamic references.
#include <algorithm>
#include <functional>
#include <set>

#include "deploy/template/template_internal.h"

namespace drover::deploy::template_internal {
namespace {

namespace json = boost::json;

std::string Join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

// "" when a literal value can have the type (intrinsic functions are checked after evaluation), else why not.
std::string LiteralTypeError(const Node& v, PropertyType type) {
  if (v.kind == Node::Kind::kFunction || type == PropertyType::kAny) return "";
  auto got = [&]() -> std::string {
    switch (v.kind) {
      case Node::Kind::kNull: return "nothing";
      case Node::Kind::kScalar: return "'" + v.scalar + "'";
      case Node::Kind::kSequence: return "a list";
      case Node::Kind::kMapping: return "a mapping";
      default: return "?";
    }
  };
  bool fits = false;
  json::value value = ScalarValue(v);
  switch (type) {
    case PropertyType::kString: fits = v.kind == Node::Kind::kScalar && !value.is_null(); break;
    case PropertyType::kNumber:
      fits = v.kind == Node::Kind::kScalar &&
             (value.is_int64() || value.is_double() || (value.is_string() && ParseNumber(v.scalar)));
      break;
    case PropertyType::kInteger:
      fits = v.kind == Node::Kind::kScalar && (value.is_int64() || (value.is_string() && ParseInteger(v.scalar)));
      break;
    case PropertyType::kBoolean:
      fits = v.kind == Node::Kind::kScalar && (value.is_bool() || v.scalar == "true" || v.scalar == "false");
      break;
    case PropertyType::kList: fits = v.kind == Node::Kind::kSequence; break;
    case PropertyType::kMap: fits = v.kind == Node::Kind::kMapping; break;
    case PropertyType::kAny: fits = true; break;
  }
  return fits ? "" : std::string("expected ") + TypeName(type) + ", got " + got();
}

bool IsConditionFunction(const Node& n) {
  return n.IsFunction("Fn::Equals") || n.IsFunction("Fn::And") || n.IsFunction("Fn::Or") ||
         n.IsFunction("Fn::Not") || n.IsFunction("Condition");
}

class Checker {
 public:
  explicit Checker(ParseState& s) : s_(s), t_(s.t), d_(s.diags) {}

  void Run() {
    Names();
    for (auto& r : t_.resources) Resource(r);
    for (const auto& [name, node] : t_.conditions) ConditionDefinition(name, node);
    for (const auto& o : t_.outputs) {
      Walk(o.value, "Outputs." + o.name + ".Value", false, nullptr);
      ConditionName("Outputs." + o.name, o.condition);
    }
    ResourceCycles();
    ConditionCycles();
  }

 private:
  void Names() {
    for (const auto& r : t_.resources) {
      if (t_.FindParameter(r.name)) d_.Add(r.where, "Resources." + r.name + ": the name is also a parameter's");
    }
  }

  void Resource(deploy::Resource& r) {
    const std::string path = "Resources." + r.name;
    std::set<std::string> refs;
    Walk(r.properties, path + ".Properties", false, &refs);
    r.references.assign(refs.begin(), refs.end());
    const auto& where = s_.depends_on_where[r.name];
    for (size_t i = 0; i < r.depends_on.size(); ++i) {
      if (!t_.FindResource(r.depends_on[i])) {
        d_.Add(where.at(i), path + ".DependsOn: no resource named '" + r.depends_on[i] + "'");
      }
    }
    ConditionName(path, r.condition);
    auto it = t_.types.find(r.type);
    if (it != t_.types.end()) Schema(r, it->second);
  }

  void Schema(const deploy::Resource& r, const ResourceTypeSchema& schema) {
    const std::string path = "Resources." + r.name + ".Properties";
    std::vector<std::string> known;
    for (const auto& p : schema.properties) known.push_back(p.name);
    for (const auto& [key, value] : r.properties.entries) {
      const PropertySchema* p = schema.FindProperty(key);
      if (!p) {
        d_.Add(value.where, path + ": unknown property '" + key + "' for type " + schema.type +
                                " (known: " + (known.empty() ? "none" : Join(known)) + ")");
        continue;
      }
      std::string error = LiteralTypeError(value, p->type);
      if (!error.empty()) {
        d_.Add(value.where, path + "." + key + ": " + error);
        continue;
      }
      if (!p->allowed_values.empty() && value.kind == Node::Kind::kScalar &&
          std::find(p->allowed_values.begin(), p->allowed_values.end(), value.scalar) == p->allowed_values.end()) {
        d_.Add(value.where, path + "." + key + ": '" + value.scalar + "' is not one of the allowed values (" +
                                Join(p->allowed_values) + ")");
      }
    }
    for (const auto& p : schema.properties) {
      if (p.required && !r.properties.Find(p.name)) {
        const SourceLocation& where = r.properties.kind == Node::Kind::kMapping ? r.properties.where : r.where;
        d_.Add(where, "Resources." + r.name + ": missing required property '" + p.name + "' for type " + schema.type);
      }
    }
  }

  void ConditionName(const std::string& path, const std::string& name) {
    if (name.empty() || t_.FindCondition(name)) return;
    d_.Add(s_.condition_where[path], path + ".Condition: no condition named '" + name + "'");
  }

  void ConditionDefinition(const std::string& name, const Node& node) {
    const std::string path = "Conditions." + name;
    if (!IsConditionFunction(node)) {
      d_.Add(node.where, path + ": a condition is !Equals, !And, !Or, !Not or !Condition");
      return;
    }
    Walk(node, path, true, nullptr);
  }

  // Checks every intrinsic function under `n`. `in_condition`: inside Conditions, where only parameters can be
  // named. `refs` (when not null) collects the resources named.
  void Walk(const Node& n, const std::string& path, bool in_condition, std::set<std::string>* refs) {
    switch (n.kind) {
      case Node::Kind::kNull: return;
      case Node::Kind::kScalar: DynamicReferences(n, path, n.scalar); return;
      case Node::Kind::kSequence:
        for (size_t i = 0; i < n.items.size(); ++i) Walk(n.items[i], path + "[" + std::to_string(i) + "]", in_condition, refs);
        return;
      case Node::Kind::kMapping:
        for (const auto& [key, value] : n.entries) Walk(value, path + "." + key, in_condition, refs);
        return;
      case Node::Kind::kFunction: Function(n, path, in_condition, refs); return;
    }
  }

  void Function(const Node& n, const std::string& path, bool in_condition, std::set<std::string>* refs) {
    if (std::string shape = ShapeError(n); !shape.empty()) {
      d_.Add(n.where, path + ": " + shape);
      return;
    }
    const Node& arg = n.items[0];
    const std::string& f = n.function;
    if (f == "Ref") {
      Name(n, path, "!Ref", arg.scalar, in_condition, refs);
    } else if (f == "Fn::GetAtt") {
      auto [resource, attribute] = GetAttTarget(n);
      Attribute(n, path, "!GetAtt", resource, attribute, in_condition, refs);
    } else if (f == "Fn::Sub") {
      Sub(n, path, in_condition, refs);
    } else if (f == "Fn::If") {
      if (!t_.FindCondition(arg.items[0].scalar)) d_.Add(arg.items[0].where, path + ": !If names no condition '" + arg.items[0].scalar + "'");
      Walk(arg.items[1], path, in_condition, refs);
      Walk(arg.items[2], path, in_condition, refs);
    } else if (f == "Fn::FindInMap") {
      FindInMap(n, path, in_condition, refs);
    } else if (f == "Condition") {
      if (!t_.FindCondition(arg.scalar)) d_.Add(n.where, path + ": !Condition names no condition '" + arg.scalar + "'");
    } else {
      if ((f == "Fn::And" || f == "Fn::Or" || f == "Fn::Not")) {
        for (const auto& item : arg.items) {
          if (!IsConditionFunction(item)) d_.Add(item.where, path + ": " + ShortName(f) + " takes conditions (!Equals, !And, !Or, !Not, !Condition)");
        }
      }
      Walk(arg, path, in_condition, refs);
    }
  }

  void Name(const Node& n, const std::string& path, const std::string& how, const std::string& name, bool in_condition,
            std::set<std::string>* refs) {
    if (IsPseudoParameter(name) || t_.FindParameter(name)) return;
    if (t_.FindResource(name)) {
      if (in_condition) {
        d_.Add(n.where, path + ": " + how + " '" + name + "': conditions can name only parameters, not resources");
      } else if (refs) {
        refs->insert(name);
      }
      return;
    }
    d_.Add(n.where, path + ": " + how + " to unknown parameter or resource '" + name + "'");
  }

  void Attribute(const Node& n, const std::string& path, const std::string& how, const std::string& resource,
                 const std::string& attribute, bool in_condition, std::set<std::string>* refs) {
    const deploy::Resource* r = t_.FindResource(resource);
    if (!r) {
      std::string what = t_.FindParameter(resource) ? "'" + resource + "' is a parameter, not a resource" : "no resource named '" + resource + "'";
      d_.Add(n.where, path + ": " + how + " " + resource + "." + attribute + ": " + what);
      return;
    }
    if (in_condition) {
      d_.Add(n.where, path + ": " + how + " " + resource + "." + attribute + ": conditions can name only parameters, not resources");
      return;
    }
    if (refs) refs->insert(resource);
    auto it = t_.types.find(r->type);
    if (it == t_.types.end()) return;  // unknown type, reported on the resource
    const auto& attrs = it->second.attributes;
    if (std::find(attrs.begin(), attrs.end(), attribute) == attrs.end()) {
      d_.Add(n.where, path + ": " + how + " " + resource + "." + attribute + ": type " + r->type + " has no attribute '" +
                          attribute + "' (it has: " + (attrs.empty() ? "none" : Join(attrs)) + ")");
    }
  }

  void FindInMap(const Node& n, const std::string& path, bool in_condition, std::set<std::string>* refs) {
    const Node& arg = n.items[0];
    Walk(arg.items[1], path, in_condition, refs);
    Walk(arg.items[2], path, in_condition, refs);
    const std::string& name = arg.items[0].scalar;
    const Node* map = t_.FindMapping(name);
    if (!map) {
      d_.Add(arg.items[0].where, path + ": !FindInMap names no mapping '" + name + "'");
      return;
    }
    if (map->kind != Node::Kind::kMapping || arg.items[1].kind != Node::Kind::kScalar) return;
    const Node* second = map->Find(arg.items[1].scalar);
    if (!second) {
      d_.Add(arg.items[1].where, path + ": !FindInMap: mapping '" + name + "' has no key '" + arg.items[1].scalar + "'");
      return;
    }
    if (arg.items[2].kind == Node::Kind::kScalar && !second->Find(arg.items[2].scalar)) {
      d_.Add(arg.items[2].where, path + ": !FindInMap: mapping '" + name + "' has no key '" + arg.items[1].scalar + "." +
                                     arg.items[2].scalar + "'");
    }
  }

  void Sub(const Node& n, const std::string& path, bool in_condition, std::set<std::string>* refs) {
    const Node& arg = n.items[0];
    const Node& text = arg.kind == Node::Kind::kScalar ? arg : arg.items[0];
    const Node* vars = arg.kind == Node::Kind::kSequence ? &arg.items[1] : nullptr;
    if (vars) Walk(*vars, path, in_condition, refs);
    DynamicReferences(text, path, text.scalar);
    auto parts = ParseSubTemplate(text.scalar);
    if (!parts.ok()) {
      d_.Add(text.where, path + ": " + parts.status().message());
      return;
    }
    for (const auto& part : *parts) {
      if (!part.variable || (vars && vars->Find(part.text))) continue;
      size_t dot = part.text.find('.');
      if (dot != std::string::npos && !IsPseudoParameter(part.text)) {
        Attribute(n, path, "!Sub ${" + part.text + "}:", part.text.substr(0, dot), part.text.substr(dot + 1), in_condition, refs);
      } else if (IsNoValue(part.text)) {
        d_.Add(n.where, path + ": !Sub cannot substitute ${" + part.text + "}");
      } else {
        Name(n, path, "!Sub ${" + part.text + "}", part.text, in_condition, refs);
      }
    }
  }

  void DynamicReferences(const Node& n, const std::string& path, const std::string& text) {
    for (const auto& error : CheckDynamicReferences(text)) d_.Add(n.where, path + ": " + error);
  }

  // Reports each cycle found by a depth-first search over `edges`, as "A -> B -> A".
  void Cycles(const std::vector<std::string>& names, const std::function<std::vector<std::string>(const std::string&)>& edges,
              const std::function<void(const std::string&, const std::string&)>& report) {
    std::map<std::string, int> state;  // 0 new, 1 on the stack, 2 done
    std::vector<std::string> stack;
    std::function<void(const std::string&)> visit = [&](const std::string& u) {
      state[u] = 1;
      stack.push_back(u);
      for (const auto& v : edges(u)) {
        if (state[v] == 1) {
          auto from = std::find(stack.begin(), stack.end(), v);
          std::vector<std::string> cycle(from, stack.end());
          cycle.push_back(v);
          report(v, Join(cycle, " -> "));
        } else if (state[v] == 0) {
          visit(v);
        }
      }
      stack.pop_back();
      state[u] = 2;
    };
    for (const auto& name : names) {
      if (state[name] == 0) visit(name);
    }
  }

  void ResourceCycles() {
    std::vector<std::string> names;
    for (const auto& r : t_.resources) names.push_back(r.name);
    Cycles(
        names,
        [&](const std::string& name) {
          std::vector<std::string> out;
          for (const auto& d : t_.FindResource(name)->Dependencies()) {
            if (t_.FindResource(d)) out.push_back(d);
          }
          return out;
        },
        [&](const std::string& at, const std::string& cycle) {
          d_.Add(t_.FindResource(at)->where, "Resources." + at + ": dependency cycle " + cycle);
        });
  }

  void ConditionCycles() {
    std::vector<std::string> names;
    for (const auto& [name, _] : t_.conditions) names.push_back(name);
    Cycles(
        names,
        [&](const std::string& name) {
          std::vector<std::string> out;
          std::function<void(const Node&)> collect = [&](const Node& n) {
            if (n.IsFunction("Condition") && n.items[0].kind == Node::Kind::kScalar && t_.FindCondition(n.items[0].scalar)) {
              out.push_back(n.items[0].scalar);
            }
            for (const auto& i : n.items) collect(i);
            for (const auto& [_, v] : n.entries) collect(v);
          };
          collect(*t_.FindCondition(name));
          return out;
        },
        [&](const std::string& at, const std::string& cycle) {
          d_.Add(t_.FindCondition(at)->key_where, "Conditions." + at + ": condition cycle " + cycle);
        });
  }

  ParseState& s_;
  Template& t_;
  Diagnostics& d_;
};

}  // namespace

void CheckTemplate(ParseState& state) { Checker(state).Run(); }

const char* TypeName(PropertyType t) {
  switch (t) {
    case PropertyType::kString: return "a string";
    case PropertyType::kNumber: return "a number";
    case PropertyType::kInteger: return "an integer";
    case PropertyType::kBoolean: return "true or false";
    case PropertyType::kList: return "a list";
    case PropertyType::kMap: return "a mapping";
    case PropertyType::kAny: return "any value";
  }
  return "?";
}

}  // namespace drover::deploy::template_internal
