// Interface placeholder for compiling the engine; replaced by the template module.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <boost/json.hpp>
#include "common/status.h"
namespace drover::deploy {
struct SourceLocation { std::string file; int line = 0; int column = 0; std::string ToString() const; };
struct Node {
  enum class Kind { kNull, kScalar, kSequence, kMapping, kFunction };
  Kind kind = Kind::kNull;
  std::string scalar;
  bool quoted = false;
  std::vector<Node> items;
  std::vector<std::pair<std::string, Node>> entries;
  std::string function;
  SourceLocation where;
};
enum class ParameterType { kString, kNumber, kCommaDelimitedList };
struct Parameter {
  std::string name; ParameterType type; std::optional<std::string> default_value;
  std::vector<std::string> allowed_values; std::optional<double> min_value, max_value;
  std::optional<size_t> min_length, max_length; std::string allowed_pattern; std::string description;
  bool no_echo = false; SourceLocation where;
};
enum class DeletionPolicy { kDelete, kRetain };
struct CreationPolicy { int count = 1; int64_t timeout_ms = 0; };
struct Resource {
  std::string name, type; Node properties;
  std::vector<std::string> depends_on;
  std::vector<std::string> references;
  std::string condition;
  std::optional<CreationPolicy> creation_policy;
  std::optional<DeletionPolicy> deletion_policy;
  SourceLocation where;
  std::vector<std::string> Dependencies() const;
};
struct Output { std::string name, description, condition; Node value; SourceLocation where; };
struct Template {
  std::string file, description;
  std::vector<Parameter> parameters;
  std::vector<std::pair<std::string, Node>> conditions;
  std::vector<Resource> resources;
  std::vector<Output> outputs;
  const Resource* FindResource(std::string_view name) const;
};
enum class PropertyType { kString, kNumber, kInteger, kBoolean, kList, kMap, kAny };
struct PropertySchema { std::string name; PropertyType type = PropertyType::kAny; bool required = false; std::vector<std::string> allowed_values; };
struct ResourceTypeSchema { std::string type; std::vector<PropertySchema> properties; std::vector<std::string> attributes; std::string description; };
class ResourceTypeRegistry {
 public:
  void Add(ResourceTypeSchema schema);
  const ResourceTypeSchema* Find(std::string_view type) const;
  std::vector<std::string> Types() const;
 private:
  std::vector<ResourceTypeSchema> types_;
};
Result<Template> ParseTemplate(std::string_view text, const std::string& file, const ResourceTypeRegistry& types);
Result<Template> LoadTemplateFile(const std::string& path, const ResourceTypeRegistry& types);
Result<std::map<std::string, boost::json::value>> BindParameters(const Template& t, const std::map<std::string, std::string>& overrides);
struct ResourceResolver {
  std::function<Result<boost::json::value>(const std::string& resource)> ref;
  std::function<Result<boost::json::value>(const std::string& resource, const std::string& attribute)> get_att;
};
class Evaluator {
 public:
  Evaluator(const Template& t, std::map<std::string, boost::json::value> parameters, ResourceResolver resolver, std::string stack_name);
  Result<bool> Condition(const std::string& name);
  Result<bool> Enabled(const Resource& r);
  Result<boost::json::value> Evaluate(const Node& node);
  Result<boost::json::object> Properties(const Resource& r);
 private:
  const Template& t_;
};
struct SecretReference { std::string name; std::optional<int> version; };
std::vector<SecretReference> FindSecretReferences(std::string_view text);
Result<std::string> ResolveSecretReferences(std::string_view text,
    const std::function<Result<std::string>(const SecretReference&)>& lookup);
Result<int64_t> ParseIsoDuration(std::string_view text);
}  // namespace drover::deploy
