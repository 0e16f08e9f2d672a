#include "config/config_diff.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace scrub::config {
namespace {

std::string canonical(const YAML::Node& node) {
  if (!node) {
    return "<absent>";
  }
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

// `listeners` with (`rules_only`) just their rule lists, or everything but their rule lists.
std::string listenersPart(const YAML::Node& listeners, bool rules_only) {
  if (!listeners || !listeners.IsSequence()) {
    return canonical(listeners);
  }
  YAML::Node part(YAML::NodeType::Sequence);
  for (const auto& item : listeners) {
    if (!item.IsMap()) {
      part.push_back(rules_only ? YAML::Node() : YAML::Clone(item));
      continue;
    }
    if (rules_only) {
      part.push_back(item["rules"] ? YAML::Clone(item["rules"]) : YAML::Node("<absent>"));
    } else {
      YAML::Node copy = YAML::Clone(item);
      copy.remove("rules");
      part.push_back(copy);
    }
  }
  return canonical(part);
}

} // namespace

Result<std::vector<std::string>> changedSections(std::string_view before, std::string_view after) {
  YAML::Node old_root;
  YAML::Node new_root;
  try {
    old_root = YAML::Load(std::string(before));
    new_root = YAML::Load(std::string(after));
  } catch (const YAML::Exception& e) {
    return Error{"YAML: " + e.msg};
  }
  std::vector<std::string> keys;
  for (const auto* root : {&new_root, &old_root}) {
    if (!root->IsMap()) {
      continue;
    }
    for (const auto& entry : *root) {
      const std::string key = entry.first.Scalar();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        keys.push_back(key);
      }
    }
  }
  if (!old_root.IsMap() || !new_root.IsMap()) {
    return keys.empty() ? std::vector<std::string>{"<document>"} : keys;
  }
  std::vector<std::string> changed;
  for (const auto& key : keys) {
    const YAML::Node a = old_root[key];
    const YAML::Node b = new_root[key];
    if (key == "listeners") {
      if (listenersPart(a, false) != listenersPart(b, false)) {
        changed.push_back("listeners");
      }
      if (listenersPart(a, true) != listenersPart(b, true)) {
        changed.push_back("listeners.rules");
      }
    } else if (canonical(a) != canonical(b)) {
      changed.push_back(key);
    }
  }
  return changed;
}

} // namespace scrub::config
