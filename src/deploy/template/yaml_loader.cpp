// YAML text -> Node tree, through yaml-cpp. yaml-cpp keeps every pair of a mapping (duplicates included) in
// written order, a mark (0-based line/column) on every node and the tag as written ("?" for plain scalars,
// "!" for quoted and block scalars), which is all a template's error messages need.
#include <yaml-cpp/yaml.h>

#include <map>

#include "deploy/template/template_internal.h"

namespace drover::deploy::template_internal {
namespace {

constexpr int kMaxDepth = 100;
// Aliases can make a small text expand into a huge tree; a template never needs this many values.
constexpr size_t kMaxNodes = 50000;
constexpr std::string_view kCoreTagPrefix = "tag:yaml.org,2002:";
constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";

class Loader {
 public:
  Loader(const std::string& file, Diagnostics& diags) : file_(file), diags_(diags) {}

  SourceLocation Where(const YAML::Mark& mark) const {
    if (mark.is_null()) return {file_, 0, 0};
    return {file_, mark.line + 1, mark.column + 1};
  }

  Node Convert(const YAML::Node& y, const SourceLocation& fallback, int depth) {
    Node n;
    n.where = y.Mark().is_null() ? fallback : Where(y.Mark());
    n.key_where = n.where;
    if (++count_ > kMaxNodes) {
      if (count_ == kMaxNodes + 1) {
        diags_.Add(n.where, "the template expands to more than " + std::to_string(kMaxNodes) + " values (through aliases?)");
      }
      return n;
    }
    if (depth > kMaxDepth) {
      diags_.Add(n.where, "values nested more than " + std::to_string(kMaxDepth) + " levels deep");
      return n;
    }
    const std::string& tag = y.Tag();
    std::string function;
    if (!tag.empty() && tag != "?" && tag != "!") {
      if (tag.rfind(kCoreTagPrefix, 0) == 0) {
        std::string core = tag.substr(kCoreTagPrefix.size());
        bool fits = (core == "str" && y.IsScalar()) || (core == "map" && y.IsMap()) ||
                    (core == "seq" && y.IsSequence()) || (core == "null" && y.IsNull());
        if (!fits) diags_.Add(n.where, "unsupported YAML tag '!!" + core + "' here");
      } else {
        function = CanonicalFunctionName(tag);
        if (function.empty()) {
          diags_.Add(n.where, "unknown intrinsic function tag '" + tag + "'");
        }
      }
    }
    Node value = ConvertValue(y, n.where, depth);
    if (tag == "!" || tag == kStrTag) value.quoted = true;
    if (!function.empty()) {
      // A tag hides whether its scalar was quoted; a function's scalar argument is a name or text.
      if (value.kind == Node::Kind::kScalar) value.quoted = true;
      n.kind = Node::Kind::kFunction;
      n.function = function;
      n.items.push_back(std::move(value));
      return n;
    }
    return value;
  }

 private:
  Node ConvertValue(const YAML::Node& y, const SourceLocation& where, int depth) {
    Node n;
    n.where = where;
    n.key_where = where;
    switch (y.Type()) {
      case YAML::NodeType::Scalar:
        n.kind = Node::Kind::kScalar;
        n.scalar = y.Scalar();
        return n;
      case YAML::NodeType::Sequence:
        n.kind = Node::Kind::kSequence;
        for (const auto& item : y) n.items.push_back(Convert(item, where, depth + 1));
        return n;
      case YAML::NodeType::Map:
        return ConvertMapping(y, where, depth);
      default:
        return n;  // null, undefined
    }
  }

  Node ConvertMapping(const YAML::Node& y, const SourceLocation& where, int depth) {
    Node n;
    n.kind = Node::Kind::kMapping;
    n.where = where;
    n.key_where = where;
    std::map<std::string, SourceLocation> seen;
    for (auto it = y.begin(); it != y.end(); ++it) {
      // Copies: the iterator hands out a temporary pair.
      const YAML::Node key = it->first;
      const YAML::Node item = it->second;
      SourceLocation key_where = key.Mark().is_null() ? where : Where(key.Mark());
      if (!key.IsScalar() || (key.Tag() != "?" && key.Tag() != "!")) {
        diags_.Add(key_where, "mapping keys must be plain or quoted strings");
        continue;
      }
      const std::string& name = key.Scalar();
      auto [first, inserted] = seen.emplace(name, key_where);
      if (!inserted) {
        diags_.Add(key_where, "duplicate key '" + name + "' (first at line " + std::to_string(first->second.line) + ")");
        continue;
      }
      // A missing value (`Key:`) has no mark of its own worth showing: point at its key.
      Node value = Convert(item, key_where, depth + 1);
      if (item.IsNull() && item.Tag().empty()) value.where = key_where;
      value.key_where = key_where;
      n.entries.emplace_back(name, std::move(value));
    }
    // The long form of an intrinsic function: a mapping whose only key is "Ref" or "Fn::Name".
    for (const auto& [key, value] : n.entries) {
      bool looks_like_function = key == "Ref" || key.rfind("Fn::", 0) == 0;
      if (!looks_like_function) continue;
      std::string function = CanonicalFunctionName(key);
      if (function.empty()) {
        diags_.Add(value.where, "unknown intrinsic function '" + key + "'");
        return n;
      }
      if (n.entries.size() != 1) {
        diags_.Add(n.where, "'" + key + "' must be the only key of its mapping (it is an intrinsic function)");
        return n;
      }
      Node fn;
      fn.kind = Node::Kind::kFunction;
      fn.function = function;
      fn.where = n.where;
      fn.key_where = n.key_where;
      fn.items.push_back(value);
      return fn;
    }
    return n;
  }

  const std::string& file_;
  Diagnostics& diags_;
  size_t count_ = 0;
};

}  // namespace

std::optional<Node> LoadYaml(std::string_view text, const std::string& file, Diagnostics& diags) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    SourceLocation where{file, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1};
    diags.Add(where, "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  if (documents.empty()) {
    diags.Add({file, 1, 1}, "the template is empty");
    return std::nullopt;
  }
  if (documents.size() > 1) {
    diags.Add({file, documents[1].Mark().line + 1, documents[1].Mark().column + 1},
              "a template is one YAML document; this is a second one");
  }
  Loader loader(file, diags);
  try {
    return loader.Convert(documents[0], {file, 1, 1}, 0);
  } catch (const YAML::Exception& e) {
    diags.Add({file, e.mark.line + 1, e.mark.column + 1}, "YAML error: " + e.msg);
    return std::nullopt;
  }
}

}  // namespace drover::deploy::template_internal
