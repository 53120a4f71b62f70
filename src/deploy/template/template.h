// Drover's deployment templates: YAML in the style of AWS CloudFormation (Parameters, Conditions,
// Resources, Outputs; intrinsic functions such as !Ref, !GetAtt, !Sub; dynamic references to secrets).
//
// The life of a template:
//   ParseTemplate     text -> Template, every static problem reported at once with file:line:col
//   BindParameters    Template + `--param K=V` overrides -> typed parameter values
//   Evaluator         Template + values + what the engine knows of resources -> property values
// Secret values are never substituted by evaluation: {{resolve:secret:/name}} stays in the values until
// a provider calls ResolveSecretReferences at the moment it needs the secret.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace drover::deploy {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string ToString() const;  // "file:line:col"
};

// A value as written in the template, intrinsic functions not yet evaluated.
struct Node {
  enum class Kind { kNull, kScalar, kSequence, kMapping, kFunction };
  Kind kind = Kind::kNull;
  std::string scalar;          // kScalar: the text; kFunction: unused
  bool quoted = false;         // kScalar written in quotes or as a block scalar (always a string)
  std::vector<Node> items;     // kSequence items; kFunction: the function's argument(s) as one Node in items[0]
  std::vector<std::pair<std::string, Node>> entries;  // kMapping, in written order; duplicate keys are a parse error
  std::string function;        // kFunction: canonical long name, e.g. "Ref", "Fn::GetAtt", "Fn::Sub"
  SourceLocation where;
  SourceLocation key_where;    // a value in a mapping: where its key is written; otherwise the same as where

  bool IsFunction(std::string_view name) const { return kind == Kind::kFunction && function == name; }
  // kMapping: the value of `key`, or nullptr.
  const Node* Find(std::string_view key) const;
};

// The value of a scalar under the YAML 1.2 core schema: a quoted scalar is a string; a plain one is
// null (null, Null, NULL, ~, empty), a bool (true/True/TRUE, false/...), an int64 (decimal, 0o octal,
// 0x hex; a decimal too large for int64 becomes a double), a double (including .inf, .nan), else a string.
// kNull gives null. Other kinds give null too (they are not scalars).
boost::json::value ScalarValue(const Node& node);

enum class ParameterType { kString, kNumber, kCommaDelimitedList };
struct Parameter {
  std::string name;
  ParameterType type = ParameterType::kString;
  std::optional<std::string> default_value;
  std::vector<std::string> allowed_values;    // for a CommaDelimitedList: each item must be one of them
  std::optional<double> min_value, max_value;  // Number only
  std::optional<size_t> min_length, max_length;  // String, and each item of a CommaDelimitedList
  std::string allowed_pattern;  // ECMAScript, must match the whole value (each item of a list); "" when none
  std::string description;
  bool no_echo = false;  // the value must not be shown in plans, events or logs
  SourceLocation where;  // where its name is written
};

enum class DeletionPolicy { kDelete, kRetain };
// From CreationPolicy: {ResourceSignal: {Count, Timeout}}. A ResourceSignal without Count waits for one
// signal; without Timeout waits PT5M (300000 ms), as CloudFormation does.
struct CreationPolicy {
  int count = 1;
  int64_t timeout_ms = 0;
};

struct Resource {
  std::string name, type;
  Node properties;                       // kMapping (or kNull when absent)
  std::vector<std::string> depends_on;   // explicit DependsOn (string or list)
  std::vector<std::string> references;   // resources named by Ref/GetAtt/Sub anywhere in properties (implicit deps),
                                         // sorted, unique
  std::string condition;                 // Condition: name, "" when none
  std::optional<CreationPolicy> creation_policy;
  std::optional<DeletionPolicy> deletion_policy;        // absent: the type's default (the engine decides)
  std::optional<DeletionPolicy> update_replace_policy;  // UpdateReplacePolicy, same values
  Node metadata;                         // Metadata as written (kNull when absent); never evaluated
  SourceLocation where;                  // where its name is written
  std::vector<std::string> Dependencies() const;  // depends_on ∪ references, sorted, unique
};

// Outputs: Value (required), Description, Condition. Export is rejected: Drover stacks do not import
// each other's values.
struct Output {
  std::string name, description, condition;
  Node value;
  SourceLocation where;  // where its name is written
};

// Resource type schemas, supplied by the engine (tests build their own).
enum class PropertyType { kString, kNumber, kInteger, kBoolean, kList, kMap, kAny };
struct PropertySchema {
  std::string name;
  PropertyType type = PropertyType::kAny;
  bool required = false;
  std::vector<std::string> allowed_values;  // compared with the value's text; empty: any
};
struct ResourceTypeSchema {
  std::string type;
  std::vector<PropertySchema> properties;
  std::vector<std::string> attributes;  // what !GetAtt may ask for
  std::string description;
  const PropertySchema* FindProperty(std::string_view name) const;
};
class ResourceTypeRegistry {
 public:
  void Add(ResourceTypeSchema schema);  // replaces a schema of the same type
  const ResourceTypeSchema* Find(std::string_view type) const;
  std::vector<std::string> Types() const;  // sorted

 private:
  std::map<std::string, ResourceTypeSchema, std::less<>> schemas_;
};

struct Template {
  std::string file, description;
  // Metadata.Drover.Provider: the provider the template is written for ("" when it works on any);
  // the engine checks the name.
  std::string provider;
  SourceLocation provider_where;
  std::vector<Parameter> parameters;                 // written order
  std::vector<std::pair<std::string, Node>> conditions;
  std::vector<std::pair<std::string, Node>> mappings;  // Mappings: name -> {key -> {key -> literal value}}
  std::vector<Resource> resources;                   // written order
  std::vector<Output> outputs;
  // The schema of every resource type the template uses, copied from the registry at parse time, so an
  // Evaluator needs nothing but the Template.
  std::map<std::string, ResourceTypeSchema, std::less<>> types;

  const Resource* FindResource(std::string_view name) const;
  const Parameter* FindParameter(std::string_view name) const;
  const Node* FindCondition(std::string_view name) const;
  const Node* FindMapping(std::string_view name) const;
};

// Parses and validates everything that can be checked without parameter values or running anything.
// On failure the Status (kInvalidArgument) message holds EVERY problem found, one per line, sorted by
// position, each "file:line:col: message", e.g.
// "cluster.yaml:12:5: Resources.Head: unknown resource type 'Drover::Hed' (known: ...)".
Result<Template> ParseTemplate(std::string_view text, const std::string& file, const ResourceTypeRegistry& types);
Result<Template> LoadTemplateFile(const std::string& path, const ResourceTypeRegistry& types);  // reads then ParseTemplate

// Binds values: overrides (from `--param K=V`) over defaults; checks each against its type and constraints
// (AllowedValues, MinValue/MaxValue, MinLength/MaxLength, AllowedPattern via std::regex ECMAScript, Number parses);
// an override naming no parameter, or a parameter with no default and no override, is an error. Values:
// String -> json string, Number -> json int64 or double, CommaDelimitedList -> json array of strings (trimmed).
// Every problem is reported, one per line.
Result<std::map<std::string, boost::json::value>> BindParameters(const Template& t, const std::map<std::string, std::string>& overrides);
// One value checked against its parameter's type and constraints; the typed value on success.
Result<boost::json::value> CheckParameterValue(const Parameter& p, const std::string& text);

// What the engine knows about resources when evaluating.
struct ResourceResolver {
  std::function<Result<boost::json::value>(const std::string& resource)> ref;                               // !Ref Resource
  std::function<Result<boost::json::value>(const std::string& resource, const std::string& attribute)> get_att;
};

// Evaluates a parsed Template. `t` must outlive the Evaluator. Not thread-safe (conditions are memoized).
class Evaluator {
 public:
  Evaluator(const Template& t, std::map<std::string, boost::json::value> parameters, ResourceResolver resolver, std::string stack_name);
  Result<bool> Condition(const std::string& name);           // memoized; cycles between conditions -> error
  Result<bool> Enabled(const Resource& r);                    // true when r.condition is empty or true
  // Full evaluation; errors carry node's location. A value that is Ref Drover::NoValue as a whole gives null;
  // inside a list or mapping it removes the item or entry.
  Result<boost::json::value> Evaluate(const Node& node);
  // Evaluates r.properties, drops Drover::NoValue entries, then checks them against r's schema (types after
  // evaluation). As CloudFormation does, a String property takes a number or bool as its text, a Number or
  // Integer property takes a string that parses entirely as one, and a Boolean property takes "true"/"false";
  // the returned values are converted to the schema's type.
  Result<boost::json::object> Properties(const Resource& r);

 private:
  // nullopt: the value is Ref Drover::NoValue.
  Result<std::optional<boost::json::value>> Eval(const Node& node);
  Result<std::optional<boost::json::value>> EvalFunction(const Node& node);
  Result<boost::json::value> EvalRef(const Node& node, const std::string& name);
  Result<boost::json::value> EvalGetAtt(const Node& node, const std::string& resource, const std::string& attribute);
  Result<boost::json::value> EvalSub(const Node& node);
  Result<bool> EvalBool(const Node& node);

  const Template& t_;
  std::map<std::string, boost::json::value> parameters_;
  ResourceResolver resolver_;
  std::string stack_name_;
  std::map<std::string, bool, std::less<>> conditions_;      // evaluated so far
  std::vector<std::string> evaluating_;                      // conditions being evaluated, outermost first
};

// Dynamic references: "{{resolve:secret:/name}}" or "{{resolve:secret:/name:VERSION}}" anywhere inside a string.
// Evaluate() leaves them in place (they are resolved only at the moment a provider needs the value, so
// secret values never enter plans or the stack state file). Names start with '/' and hold letters, digits
// and "/_.-"; VERSION is a positive integer.
struct SecretReference {
  std::string name;
  std::optional<int> version;
  bool operator==(const SecretReference&) const = default;
};
std::vector<SecretReference> FindSecretReferences(std::string_view text);  // the well-formed ones, in order
// Every malformed "{{resolve:...}}" in text, one message each (empty when all are well formed).
std::vector<std::string> CheckDynamicReferences(std::string_view text);
Result<std::string> ResolveSecretReferences(std::string_view text,
    const std::function<Result<std::string>(const SecretReference&)>& lookup);

// ISO 8601 durations as CloudFormation accepts them: "PT30S", "PT5M", "PT1H30M", "PT1H2M3S", "P1D", "P1DT2H".
Result<int64_t> ParseIsoDuration(std::string_view text);   // milliseconds; clear error when malformed

}  // namespace drover::deploy
