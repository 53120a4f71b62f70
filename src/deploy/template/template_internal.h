// Pieces shared by the template parser, the checks and the evaluator. Not part of the public interface.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "deploy/template/template.h"

namespace drover::deploy::template_internal {

// Problems found in one template, each tied to a place in it.
class Diagnostics {
 public:
  void Add(const SourceLocation& where, std::string message);
  bool empty() const { return problems_.empty(); }
  // kInvalidArgument with every problem, sorted by position, one "file:line:col: message" per line.
  Status ToStatus() const;

 private:
  std::vector<std::pair<SourceLocation, std::string>> problems_;
};

// Reads one YAML document into a Node tree: short tags (!Ref, !Sub, ...) and long forms ({"Fn::Sub": ...},
// {"Ref": ...}) become kFunction nodes with the canonical long name. Syntax errors, duplicate keys, unknown
// tags and unknown Fn:: names are added to `diags`; the tree holds what could be read (nullopt after a
// syntax error).
std::optional<Node> LoadYaml(std::string_view text, const std::string& file, Diagnostics& diags);

// The canonical name ("Fn::Sub") for a short tag ("!Sub") or long key ("Fn::Sub", "Ref"); "" when unknown.
std::string CanonicalFunctionName(std::string_view tag_or_key);
// "Fn::Sub" -> "!Sub", "Ref" -> "!Ref": how messages name a function.
std::string ShortName(std::string_view function);

// "" when the function's argument has the shape the function requires, else what is wrong.
std::string ShapeError(const Node& fn);

// The two parts of a GetAtt argument ("A.B", or [A, B]); assumes ShapeError(fn) is "".
std::pair<std::string, std::string> GetAttTarget(const Node& fn);

// A Fn::Sub template split into literal text and ${Var} names; ${!Text} is the literal "${Text}".
struct SubPart {
  bool variable = false;
  std::string text;  // literal text, or the variable's name ("Param", "Resource", "Resource.Attr")
};
Result<std::vector<SubPart>> ParseSubTemplate(std::string_view text);

// "a string", "an integer", ...: how messages name what a property expects.
const char* TypeName(PropertyType t);

bool IsPseudoParameter(std::string_view name);  // Drover::StackName, Drover::NoValue and their AWS:: aliases
bool IsNoValue(std::string_view name);
bool IsStackName(std::string_view name);

// The text of a scalar JSON value as a template would write it (strings as is, numbers, true/false);
// nullopt for null, arrays and objects.
std::optional<std::string> ScalarText(const boost::json::value& v);
std::string FormatNumber(double v);  // shortest text that reads back the same: 10, 0.25, 1e+20

// Whole-text number parsing, as parameters and string-to-number coercion need it.
std::optional<int64_t> ParseInteger(std::string_view text);
std::optional<double> ParseNumber(std::string_view text);

// What the parser learns beyond the Template itself, for the checks that follow it.
struct ParseState {
  Template t;
  Diagnostics diags;
  const ResourceTypeRegistry* registry = nullptr;
  // Where each resource's DependsOn names are written, in the order of Resource::depends_on.
  std::map<std::string, std::vector<SourceLocation>> depends_on_where;
  // Where Condition: is written on a resource or an output, by "Resources.X" / "Outputs.Y".
  std::map<std::string, SourceLocation> condition_where;
};

// Parses the sections into state.t (template_parser.cpp), then runs every cross-reference check on it
// (template_checks.cpp).
void ParseSections(const Node& root, ParseState& state);
void CheckTemplate(ParseState& state);

}  // namespace drover::deploy::template_internal
