// Evaluation of a parsed template: intrinsic functions against bound parameters, conditions, and what the
// engine knows of resources (through ResourceResolver).
#include <algorithm>

#include "deploy/template/template_internal.h"

namespace drover::deploy {

namespace json = boost::json;
using namespace template_internal;

namespace {

Status At(const Node& n, const std::string& message) { return InvalidArgument(n.where.ToString() + ": " + message); }

std::string Describe(const json::value& v) {
  if (v.is_array()) return "a list";
  if (v.is_object()) return "a mapping";
  if (v.is_null()) return "null";
  return "'" + *ScalarText(v) + "'";
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    uint32_t n = uint8_t(in[i]) << 16;
    if (rest == 2) n |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A property's value converted to its schema's type, as CloudFormation converts them; nullopt when it cannot be.
std::optional<json::value> Coerce(const json::value& v, PropertyType type) {
  switch (type) {
    case PropertyType::kAny: return v;
    case PropertyType::kString:
      if (v.is_array() || v.is_object() || v.is_null()) return std::nullopt;
      return json::value(*ScalarText(v));
    case PropertyType::kNumber:
      if (v.is_int64() || v.is_double()) return v;
      if (v.is_uint64()) return json::value(static_cast<double>(v.get_uint64()));
      if (v.is_string()) {
        if (auto i = ParseInteger(v.get_string())) return json::value(*i);
        if (auto d = ParseNumber(v.get_string())) return json::value(*d);
      }
      return std::nullopt;
    case PropertyType::kInteger:
      if (v.is_int64()) return v;
      if (v.is_double() && v.get_double() == static_cast<double>(static_cast<int64_t>(v.get_double()))) {
        return json::value(static_cast<int64_t>(v.get_double()));
      }
      if (v.is_string()) {
        if (auto i = ParseInteger(v.get_string())) return json::value(*i);
      }
      return std::nullopt;
    case PropertyType::kBoolean:
      if (v.is_bool()) return v;
      if (v.is_string() && (v.get_string() == "true" || v.get_string() == "false")) return json::value(v.get_string() == "true");
      return std::nullopt;
    case PropertyType::kList:
      if (v.is_array()) return v;
      return std::nullopt;
    case PropertyType::kMap:
      if (v.is_object()) return v;
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

Evaluator::Evaluator(const Template& t, std::map<std::string, json::value> parameters, ResourceResolver resolver,
                     std::string stack_name)
    : t_(t), parameters_(std::move(parameters)), resolver_(std::move(resolver)), stack_name_(std::move(stack_name)) {}

Result<bool> Evaluator::Condition(const std::string& name) {
  if (auto it = conditions_.find(name); it != conditions_.end()) return it->second;
  if (auto it = std::find(evaluating_.begin(), evaluating_.end(), name); it != evaluating_.end()) {
    std::string cycle;
    for (; it != evaluating_.end(); ++it) cycle += *it + " -> ";
    return InvalidArgument(t_.FindCondition(name)->where.ToString() + ": Conditions." + name + ": condition cycle " + cycle + name);
  }
  const Node* node = t_.FindCondition(name);
  if (!node) return InvalidArgument("no condition named '" + name + "'");
  evaluating_.push_back(name);
  auto value = EvalBool(*node);
  evaluating_.pop_back();
  if (!value.ok()) return value.status();
  conditions_.emplace(name, *value);
  return *value;
}

Result<bool> Evaluator::Enabled(const Resource& r) {
  if (r.condition.empty()) return true;
  return Condition(r.condition);
}

Result<json::value> Evaluator::Evaluate(const Node& node) {
  ASSIGN_OR_RETURN(auto value, Eval(node));
  if (!value) return json::value(nullptr);
  return std::move(*value);
}

Result<json::object> Evaluator::Properties(const Resource& r) {
  if (r.properties.kind == Node::Kind::kNull) return json::object();
  ASSIGN_OR_RETURN(json::value evaluated, Evaluate(r.properties));
  if (!evaluated.is_object()) return At(r.properties, "Resources." + r.name + ".Properties: expected a mapping");
  json::object props = std::move(evaluated.get_object());
  auto schema = t_.types.find(r.type);
  if (schema == t_.types.end()) return props;
  std::vector<std::string> problems;
  const std::string path = "Resources." + r.name + ".Properties";
  for (auto& [key, value] : props) {
    const Node* written = r.properties.Find(key);
    std::string where = (written ? written->where : r.properties.where).ToString() + ": " + path + "." + std::string(key);
    const PropertySchema* p = schema->second.FindProperty(key);
    if (!p) {
      problems.push_back(where + ": unknown property for type " + r.type);
      continue;
    }
    auto coerced = Coerce(value, p->type);
    if (!coerced) {
      problems.push_back(where + ": expected " + TypeName(p->type) + ", got " + Describe(value));
      continue;
    }
    value = std::move(*coerced);
    if (!p->allowed_values.empty()) {
      auto text = ScalarText(value);
      if (!text || std::find(p->allowed_values.begin(), p->allowed_values.end(), *text) == p->allowed_values.end()) {
        std::string allowed;
        for (const auto& a : p->allowed_values) allowed += (allowed.empty() ? "" : ", ") + a;
        problems.push_back(where + ": " + Describe(value) + " is not one of the allowed values (" + allowed + ")");
      }
    }
  }
  for (const auto& p : schema->second.properties) {
    if (p.required && !props.contains(p.name)) {
      problems.push_back(r.properties.where.ToString() + ": Resources." + r.name + ": missing required property '" + p.name + "' for type " + r.type);
    }
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& line : problems) message += (message.empty() ? "" : "\n") + line;
    return InvalidArgument(message);
  }
  return props;
}

Result<std::optional<json::value>> Evaluator::Eval(const Node& node) {
  switch (node.kind) {
    case Node::Kind::kNull: return std::optional<json::value>(json::value(nullptr));
    case Node::Kind::kScalar: return std::optional<json::value>(ScalarValue(node));
    case Node::Kind::kSequence: {
      json::array out;
      for (const auto& item : node.items) {
        ASSIGN_OR_RETURN(auto value, Eval(item));
        if (value) out.push_back(std::move(*value));
      }
      return std::optional<json::value>(std::move(out));
    }
    case Node::Kind::kMapping: {
      json::object out;
      for (const auto& [key, item] : node.entries) {
        ASSIGN_OR_RETURN(auto value, Eval(item));
        if (value) out[key] = std::move(*value);
      }
      return std::optional<json::value>(std::move(out));
    }
    case Node::Kind::kFunction: return EvalFunction(node);
  }
  return Internal("unknown node kind");
}

Result<bool> Evaluator::EvalBool(const Node& node) {
  ASSIGN_OR_RETURN(auto value, Eval(node));
  if (!value || !value->is_bool()) {
    return At(node, "expected a condition (true or false), got " + (value ? Describe(*value) : std::string("no value")));
  }
  return value->get_bool();
}

Result<std::optional<json::value>> Evaluator::EvalFunction(const Node& node) {
  using Optional = std::optional<json::value>;
  if (std::string shape = ShapeError(node); !shape.empty()) return At(node, shape);
  const Node& arg = node.items[0];
  const std::string& f = node.function;
  if (f == "Ref") {
    if (IsNoValue(arg.scalar)) return Optional();
    ASSIGN_OR_RETURN(json::value v, EvalRef(node, arg.scalar));
    return Optional(std::move(v));
  }
  if (f == "Fn::GetAtt") {
    auto [resource, attribute] = GetAttTarget(node);
    ASSIGN_OR_RETURN(json::value v, EvalGetAtt(node, resource, attribute));
    return Optional(std::move(v));
  }
  if (f == "Fn::Sub") {
    ASSIGN_OR_RETURN(json::value v, EvalSub(node));
    return Optional(std::move(v));
  }
  if (f == "Fn::Join") {
    ASSIGN_OR_RETURN(json::value list, Evaluate(arg.items[1]));
    if (!list.is_array()) return At(node, "!Join: expected a list to join, got " + Describe(list));
    std::string out;
    bool first = true;
    for (const auto& item : list.get_array()) {
      auto text = ScalarText(item);
      if (!text) return At(node, "!Join: cannot join " + Describe(item) + " (only strings, numbers and booleans)");
      if (!first) out += arg.items[0].scalar;
      out += *text;
      first = false;
    }
    return Optional(json::value(out));
  }
  if (f == "Fn::Select") {
    ASSIGN_OR_RETURN(json::value index, Evaluate(arg.items[0]));
    std::optional<int64_t> i;
    if (index.is_int64()) i = index.get_int64();
    else if (index.is_string()) i = ParseInteger(index.get_string());
    if (!i || *i < 0) return At(node, "!Select: the index must be a non-negative integer, got " + Describe(index));
    ASSIGN_OR_RETURN(json::value list, Evaluate(arg.items[1]));
    if (!list.is_array()) return At(node, "!Select: expected a list to select from, got " + Describe(list));
    const auto& items = list.get_array();
    if (static_cast<size_t>(*i) >= items.size()) {
      return At(node, "!Select: index " + std::to_string(*i) + " is out of range for a list of " + std::to_string(items.size()) + " item" +
                          (items.size() == 1 ? "" : "s"));
    }
    return Optional(items[*i]);
  }
  if (f == "Fn::Split") {
    ASSIGN_OR_RETURN(json::value source, Evaluate(arg.items[1]));
    auto text = ScalarText(source);
    if (!text) return At(node, "!Split: expected a string to split, got " + Describe(source));
    const std::string& delim = arg.items[0].scalar;
    json::array out;
    size_t start = 0;
    while (true) {
      size_t at = text->find(delim, start);
      out.emplace_back(text->substr(start, at == std::string::npos ? std::string::npos : at - start));
      if (at == std::string::npos) break;
      start = at + delim.size();
    }
    return Optional(std::move(out));
  }
  if (f == "Fn::If") {
    ASSIGN_OR_RETURN(bool chosen, Condition(arg.items[0].scalar));
    return Eval(arg.items[chosen ? 1 : 2]);
  }
  if (f == "Fn::Equals") {
    ASSIGN_OR_RETURN(json::value a, Evaluate(arg.items[0]));
    ASSIGN_OR_RETURN(json::value b, Evaluate(arg.items[1]));
    auto ta = ScalarText(a), tb = ScalarText(b);
    bool equal = ta && tb ? *ta == *tb : a == b;
    return Optional(json::value(equal));
  }
  if (f == "Fn::Not") {
    ASSIGN_OR_RETURN(bool v, EvalBool(arg.items[0]));
    return Optional(json::value(!v));
  }
  if (f == "Fn::And" || f == "Fn::Or") {
    bool is_and = f == "Fn::And";
    for (const auto& item : arg.items) {
      ASSIGN_OR_RETURN(bool v, EvalBool(item));
      if (v != is_and) return Optional(json::value(!is_and));
    }
    return Optional(json::value(is_and));
  }
  if (f == "Condition") {
    ASSIGN_OR_RETURN(bool v, Condition(arg.scalar));
    return Optional(json::value(v));
  }
  if (f == "Fn::FindInMap") {
    const Node* map = t_.FindMapping(arg.items[0].scalar);
    if (!map) return At(node, "!FindInMap names no mapping '" + arg.items[0].scalar + "'");
    const Node* found = map;
    std::string keys;
    for (size_t i = 1; i < 3; ++i) {
      ASSIGN_OR_RETURN(json::value key, Evaluate(arg.items[i]));
      auto text = ScalarText(key);
      if (!text) return At(node, "!FindInMap: a key must be a string, got " + Describe(key));
      keys += (i == 1 ? "" : ".") + *text;
      found = found->Find(*text);
      if (!found) return At(node, "!FindInMap: mapping '" + arg.items[0].scalar + "' has no key '" + keys + "'");
    }
    return Eval(*found);
  }
  if (f == "Fn::Base64") {
    ASSIGN_OR_RETURN(json::value v, Evaluate(arg));
    auto text = ScalarText(v);
    if (!text) return At(node, "!Base64: expected a string, got " + Describe(v));
    return Optional(json::value(Base64(*text)));
  }
  return At(node, "unknown intrinsic function '" + f + "'");
}

Result<json::value> Evaluator::EvalRef(const Node& node, const std::string& name) {
  if (IsStackName(name)) return json::value(stack_name_);
  if (IsNoValue(name)) return At(node, "Drover::NoValue cannot be used here");
  if (t_.FindParameter(name)) {
    auto it = parameters_.find(name);
    if (it == parameters_.end()) return At(node, "parameter '" + name + "' has no value");
    return it->second;
  }
  if (t_.FindResource(name)) {
    if (!resolver_.ref) return FailedPrecondition(node.where.ToString() + ": !Ref " + name + ": resources cannot be named here");
    auto v = resolver_.ref(name);
    if (!v.ok()) return v.status().WithContext(node.where.ToString() + ": !Ref " + name);
    return std::move(*v);
  }
  return At(node, "!Ref to unknown parameter or resource '" + name + "'");
}

Result<json::value> Evaluator::EvalGetAtt(const Node& node, const std::string& resource, const std::string& attribute) {
  const std::string what = "!GetAtt " + resource + "." + attribute;
  if (!t_.FindResource(resource)) return At(node, what + ": no resource named '" + resource + "'");
  if (!resolver_.get_att) return FailedPrecondition(node.where.ToString() + ": " + what + ": resources cannot be named here");
  auto v = resolver_.get_att(resource, attribute);
  if (!v.ok()) return v.status().WithContext(node.where.ToString() + ": " + what);
  return std::move(*v);
}

Result<json::value> Evaluator::EvalSub(const Node& node) {
  const Node& arg = node.items[0];
  const Node& text = arg.kind == Node::Kind::kScalar ? arg : arg.items[0];
  std::map<std::string, json::value, std::less<>> vars;
  if (arg.kind == Node::Kind::kSequence) {
    for (const auto& [name, value] : arg.items[1].entries) {
      ASSIGN_OR_RETURN(vars[name], Evaluate(value));
    }
  }
  auto parts = ParseSubTemplate(text.scalar);
  if (!parts.ok()) return At(node, parts.status().message());
  std::string out;
  for (const auto& part : *parts) {
    if (!part.variable) {
      out += part.text;
      continue;
    }
    json::value value;
    if (auto it = vars.find(part.text); it != vars.end()) {
      value = it->second;
    } else if (size_t dot = part.text.find('.'); dot != std::string::npos && !IsPseudoParameter(part.text)) {
      ASSIGN_OR_RETURN(value, EvalGetAtt(node, part.text.substr(0, dot), part.text.substr(dot + 1)));
    } else {
      ASSIGN_OR_RETURN(value, EvalRef(node, part.text));
    }
    auto s = ScalarText(value);
    if (!s) return At(node, "!Sub: ${" + part.text + "} is " + Describe(value) + ", not a string or number");
    out += *s;
  }
  return json::value(out);
}

}  // namespace drover::deploy
