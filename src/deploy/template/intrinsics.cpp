// The intrinsic functions' names and the shapes of their arguments, shared by the checks and the evaluator.
#include <array>

#include "deploy/template/template_internal.h"

namespace drover::deploy::template_internal {
namespace {

constexpr std::array<std::string_view, 12> kFnNames = {"GetAtt", "Sub", "Join", "Select", "Split",  "If",
                                                       "Equals", "Not", "And",  "Or",     "Base64", "FindInMap"};

bool IsKnownFn(std::string_view name) {
  for (auto n : kFnNames) {
    if (n == name) return true;
  }
  return false;
}

std::string KindName(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull: return "nothing";
    case Node::Kind::kScalar: return "a scalar";
    case Node::Kind::kSequence: return "a list";
    case Node::Kind::kMapping: return "a mapping";
    case Node::Kind::kFunction: return ShortName(n.function);
  }
  return "?";
}

bool IsText(const Node& n) { return n.kind == Node::Kind::kScalar && !n.scalar.empty(); }
bool IsListLike(const Node& n) { return n.kind == Node::Kind::kSequence || n.kind == Node::Kind::kFunction; }
bool IsScalarLike(const Node& n) { return n.kind == Node::Kind::kScalar || n.kind == Node::Kind::kFunction; }

}  // namespace

std::string CanonicalFunctionName(std::string_view name) {
  if (name.size() > 1 && name.front() == '!') {
    name.remove_prefix(1);
    if (name == "Ref" || name == "Condition") return std::string(name);
    return IsKnownFn(name) ? "Fn::" + std::string(name) : "";
  }
  if (name == "Ref") return "Ref";
  if (name.rfind("Fn::", 0) == 0 && IsKnownFn(name.substr(4))) return std::string(name);
  return "";
}

std::string ShortName(std::string_view function) {
  if (function.rfind("Fn::", 0) == 0) function.remove_prefix(4);
  return "!" + std::string(function);
}

std::string ShapeError(const Node& fn) {
  const std::string name = ShortName(fn.function);
  const Node& arg = fn.items.at(0);
  const size_t n = arg.items.size();
  auto list_of = [&](size_t want, const char* usage) -> std::string {
    if (arg.kind != Node::Kind::kSequence) return name + " takes " + usage + ", got " + KindName(arg);
    if (n != want) return name + " takes " + usage + ", got " + std::to_string(n) + " item" + (n == 1 ? "" : "s");
    return "";
  };
  const std::string& f = fn.function;
  if (f == "Ref" || f == "Condition") {
    if (!IsText(arg)) return name + " takes a name, got " + KindName(arg);
    return "";
  }
  if (f == "Fn::GetAtt") {
    if (arg.kind == Node::Kind::kScalar) {
      size_t dot = arg.scalar.find('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 == arg.scalar.size()) {
        return name + " takes 'Resource.Attribute' or [Resource, Attribute], got '" + arg.scalar + "'";
      }
      return "";
    }
    if (auto e = list_of(2, "'Resource.Attribute' or [Resource, Attribute]"); !e.empty()) return e;
    if (!IsText(arg.items[0]) || !IsText(arg.items[1])) return name + " takes [Resource, Attribute] as two names";
    return "";
  }
  if (f == "Fn::Sub") {
    if (arg.kind == Node::Kind::kScalar) return "";
    if (auto e = list_of(2, "a string or [string, {Variable: value, ...}]"); !e.empty()) return e;
    if (arg.items[0].kind != Node::Kind::kScalar) return name + " takes a string as its first item, got " + KindName(arg.items[0]);
    if (arg.items[1].kind != Node::Kind::kMapping) return name + " takes a mapping of variables as its second item, got " + KindName(arg.items[1]);
    return "";
  }
  if (f == "Fn::Join") {
    if (auto e = list_of(2, "[delimiter, list]"); !e.empty()) return e;
    if (arg.items[0].kind != Node::Kind::kScalar) return name + " takes a string delimiter, got " + KindName(arg.items[0]);
    if (!IsListLike(arg.items[1])) return name + " takes a list to join, got " + KindName(arg.items[1]);
    return "";
  }
  if (f == "Fn::Select") {
    if (auto e = list_of(2, "[index, list]"); !e.empty()) return e;
    const Node& index = arg.items[0];
    if (!IsScalarLike(index)) return name + " takes an index, got " + KindName(index);
    if (index.kind == Node::Kind::kScalar) {
      auto i = ParseInteger(index.scalar);
      if (!i || *i < 0) return name + " takes a non-negative integer index, got '" + index.scalar + "'";
    }
    if (!IsListLike(arg.items[1])) return name + " takes a list to select from, got " + KindName(arg.items[1]);
    return "";
  }
  if (f == "Fn::Split") {
    if (auto e = list_of(2, "[delimiter, string]"); !e.empty()) return e;
    if (!IsText(arg.items[0])) return name + " takes a non-empty string delimiter";
    if (!IsScalarLike(arg.items[1])) return name + " takes a string to split, got " + KindName(arg.items[1]);
    return "";
  }
  if (f == "Fn::If") {
    if (auto e = list_of(3, "[condition, value if true, value if false]"); !e.empty()) return e;
    if (!IsText(arg.items[0])) return name + " takes a condition name first, got " + KindName(arg.items[0]);
    return "";
  }
  if (f == "Fn::Equals") return list_of(2, "[value, value]");
  if (f == "Fn::Not") return list_of(1, "[condition]");
  if (f == "Fn::And" || f == "Fn::Or") {
    if (arg.kind != Node::Kind::kSequence) return name + " takes a list of 2 to 10 conditions, got " + KindName(arg);
    if (n < 2 || n > 10) return name + " takes a list of 2 to 10 conditions, got " + std::to_string(n);
    return "";
  }
  if (f == "Fn::FindInMap") {
    if (auto e = list_of(3, "[MapName, TopLevelKey, SecondLevelKey]"); !e.empty()) return e;
    if (!IsText(arg.items[0])) return name + " takes a mapping's name first, got " + KindName(arg.items[0]);
    for (size_t i = 1; i < 3; ++i) {
      if (!IsScalarLike(arg.items[i])) return name + " takes keys that are strings, got " + KindName(arg.items[i]);
    }
    return "";
  }
  if (f == "Fn::Base64") {
    if (!IsScalarLike(arg)) return name + " takes a string, got " + KindName(arg);
    return "";
  }
  return "unknown intrinsic function '" + f + "'";
}

std::pair<std::string, std::string> GetAttTarget(const Node& fn) {
  const Node& arg = fn.items.at(0);
  if (arg.kind == Node::Kind::kScalar) {
    size_t dot = arg.scalar.find('.');
    return {arg.scalar.substr(0, dot), arg.scalar.substr(dot + 1)};
  }
  return {arg.items.at(0).scalar, arg.items.at(1).scalar};
}

Result<std::vector<SubPart>> ParseSubTemplate(std::string_view text) {
  std::vector<SubPart> parts;
  auto literal = [&](std::string_view s) {
    if (s.empty()) return;
    if (parts.empty() || parts.back().variable) parts.push_back({false, ""});
    parts.back().text += s;
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("${", i);
    if (open == std::string_view::npos) {
      literal(text.substr(i));
      break;
    }
    literal(text.substr(i, open - i));
    size_t close = text.find('}', open + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument("!Sub: '${' at offset " + std::to_string(open) + " has no closing '}'");
    }
    std::string_view inner = text.substr(open + 2, close - open - 2);
    if (!inner.empty() && inner.front() == '!') {
      literal("${");
      literal(inner.substr(1));
      literal("}");
    } else {
      while (!inner.empty() && inner.front() == ' ') inner.remove_prefix(1);
      while (!inner.empty() && inner.back() == ' ') inner.remove_suffix(1);
      if (inner.empty()) return InvalidArgument("!Sub: empty variable '${}'");
      parts.push_back({true, std::string(inner)});
    }
    i = close + 1;
  }
  return parts;
}

}  // namespace drover::deploy::template_internal
