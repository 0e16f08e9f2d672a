#include "rules/rule_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "rules/builtin_packs.h"
#include "rules/digest.h"
#include "rules/edit_distance.h"
#include "rules/rule_lint.h"

namespace scrub::rules {
namespace {

// Thrown only inside this file and caught in loadAll(): yaml-cpp reports errors by exception,
// and unwinding out of the nested walk is the simplest way to stop at the first error.
struct LoadFailure {
  Error error;
};

[[noreturn]] void fail(const SourcePos& pos, const std::string& what) {
  throw LoadFailure{Error::at(pos, what)};
}

struct SourceText {
  std::string name; // as shown in messages
  std::string text;
  std::filesystem::path dir; // for relative includes; empty for built-in packs
  std::string identity;      // canonical path or builtin:name, for cycle detection
};

// Settings that any loaded file may give, but no two may give differently.
template <typename T> struct Setting {
  std::optional<T> value;
  SourcePos pos;
  std::string text; // as written, for the conflict message
};

class Loader {
public:
  explicit Loader(const LoadOptions& options) : options_(options) {}

  RuleSetPtr loadAll(const std::vector<SourceText>& roots) {
    for (const auto& root : roots) {
      loadFile(root);
    }
    return build();
  }

  SourceText readSpec(const std::string& spec, const std::filesystem::path& base_dir,
                      const SourcePos* from) {
    std::string_view name = spec;
    const bool explicit_builtin = name.starts_with("builtin:");
    if (explicit_builtin) {
      name.remove_prefix(8);
    }
    std::filesystem::path path = spec;
    if (!explicit_builtin && path.is_relative() && !base_dir.empty()) {
      path = base_dir / path;
    }
    std::error_code ec;
    if (!explicit_builtin && std::filesystem::is_regular_file(path, ec)) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream buffer;
      buffer << in.rdbuf();
      if (!in) {
        failSpec(from, spec, "cannot read rules file '" + path.string() + "'");
      }
      const auto canonical = std::filesystem::weakly_canonical(path, ec);
      return SourceText{path.string(), buffer.str(), path.parent_path(),
                        ec ? path.string() : canonical.string()};
    }
    const bool looks_like_name = name.find('/') == std::string_view::npos &&
                                 !name.ends_with(".yaml") && !name.ends_with(".yml");
    if (explicit_builtin || looks_like_name) {
      if (const BuiltinPack* pack = findBuiltinPack(name)) {
        return SourceText{"builtin:" + std::string(pack->name) + ".yaml",
                          std::string(pack->text),
                          {},
                          "builtin:" + std::string(pack->name)};
      }
    }
    std::string known;
    for (const auto& pack : builtinPacks()) {
      known += (known.empty() ? "" : ", ") + std::string(pack.name);
    }
    failSpec(from, spec,
             "no rules file '" + path.string() +
                 "' and no shipped pack of that name (packs: " + known + ")");
  }

private:
  [[noreturn]] void failSpec(const SourcePos* from, const std::string& spec,
                             const std::string& what) {
    if (from != nullptr) {
      fail(*from, "include '" + spec + "': " + what);
    }
    throw LoadFailure{Error{spec + ": " + what}};
  }

  SourcePos posOf(const YAML::Node& node) const {
    const YAML::Mark mark = node.Mark();
    return SourcePos{current_->name, mark.line + 1, mark.column + 1};
  }
  SourcePos posOf(const YAML::Mark& mark) const {
    return SourcePos{current_->name, mark.line + 1, mark.column + 1};
  }

  void checkKeys(const YAML::Node& map, std::string_view where,
                 std::initializer_list<std::string_view> allowed) {
    // yaml-cpp accepts a repeated key and lookups see only the first: a second `deny:` list
    // would be silently ignored.
    std::map<std::string, SourcePos> seen;
    for (const auto& entry : map) {
      const std::string key = entry.first.Scalar();
      if (auto [first, added] = seen.emplace(key, posOf(entry.first)); !added) {
        fail(posOf(entry.first), std::string(where) + "duplicate key '" + key + "' (first at " +
                                     first->second.str() + ")");
      }
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
        continue;
      }
      std::string hint;
      for (std::string_view candidate : allowed) {
        if (editDistance(key, candidate) <= 2) {
          hint = " (did you mean '" + std::string(candidate) + "'?)";
          break;
        }
      }
      std::string message = std::string(where) + "unknown key '" + key + "'" + hint;
      fail(posOf(entry.first), message);
    }
  }

  std::string scalar(const YAML::Node& node, std::string_view what) {
    if (!node.IsScalar()) {
      fail(posOf(node), std::string(what) + ": expected a string");
    }
    return node.Scalar();
  }

  bool boolean(const YAML::Node& node, std::string_view what) {
    const std::string text = scalar(node, what);
    if (text == "true") {
      return true;
    }
    if (text == "false") {
      return false;
    }
    fail(posOf(node), std::string(what) + ": expected true or false, got '" + text + "'");
  }

  std::unique_ptr<const RE2> regex(const YAML::Node& node, std::string_view what) {
    const std::string text = scalar(node, what);
    if (text.empty()) {
      fail(posOf(node), std::string(what) + ": empty pattern");
    }
    RE2::Options options;
    options.set_max_mem(kRegexMaxMem);
    options.set_log_errors(false);
    auto re = std::make_unique<const RE2>(text, options);
    if (!re->ok()) {
      fail(posOf(node), std::string(what) + ": invalid RE2 pattern: " + re->error());
    }
    return re;
  }

  Action action(const YAML::Node& node, std::string_view what) {
    const std::string text = scalar(node, what);
    if (text == "remove") {
      return Action::Remove;
    }
    if (text == "mask") {
      return Action::Mask;
    }
    if (text == "hash") {
      return Action::Hash;
    }
    fail(posOf(node), std::string(what) + ": expected remove, mask or hash, got '" + text + "'");
  }

  template <typename T>
  void setOnce(Setting<T>& setting, T value, const YAML::Node& node, std::string_view what) {
    const std::string text = node.IsScalar() ? node.Scalar() : YAML::Dump(node);
    if (setting.value && !(*setting.value == value)) {
      fail(posOf(node), std::string(what) + ": '" + text + "' contradicts '" + setting.text +
                            "' set at " + setting.pos.str());
    }
    if (!setting.value) {
      setting.value = std::move(value);
      setting.pos = posOf(node);
      setting.text = text;
    }
  }

  void loadFile(const SourceText& source) {
    if (std::find(stack_.begin(), stack_.end(), source.identity) != stack_.end()) {
      throw LoadFailure{
          Error{source.name + ": include cycle (" + source.identity + " includes itself)"}};
    }
    if (!loaded_.insert(source.identity).second) {
      return; // a diamond include: its rules are in already
    }
    rules_->sources.push_back(RuleSource{source.name, sha256Hex(source.text)});
    stack_.push_back(source.identity);
    const SourceText* previous = current_;
    current_ = &source;

    YAML::Node root;
    try {
      root = YAML::Load(source.text);
    } catch (const YAML::Exception& e) {
      fail(posOf(e.mark), "YAML: " + e.msg);
    }
    if (!root.IsMap()) {
      fail(SourcePos{source.name, 1, 1}, "a rules file is a mapping with `version: 1`");
    }
    checkKeys(root, "",
              {"version", "name", "description", "include", "policy", "action", "mask", "hash_key",
               "drop_empty", "envelope", "wildcard_keys", "keep", "deny"});
    if (!root["version"]) {
      fail(SourcePos{source.name, 1, 1}, "missing `version: 1`");
    }
    if (scalar(root["version"], "version") != "1") {
      fail(posOf(root["version"]), "version: only version 1 is understood");
    }
    if (root["name"]) {
      const std::string name = scalar(root["name"], "name");
      if (rules_->name.empty()) {
        rules_->name = name;
      }
    }
    if (const auto node = root["include"]) {
      std::vector<YAML::Node> includes;
      if (node.IsSequence()) {
        for (const auto& item : node) {
          includes.push_back(item);
        }
      } else {
        includes.push_back(node);
      }
      for (const auto& item : includes) {
        const SourcePos pos = posOf(item);
        const std::string spec = scalar(item, "include");
        const SourceText included = readSpec(spec, source.dir, &pos);
        // Checked here, not in loadFile(), so the error points at the include that closes the
        // cycle (loadFile() knows only the file name).
        if (std::find(stack_.begin(), stack_.end(), included.identity) != stack_.end()) {
          fail(pos,
               "include '" + spec + "': include cycle (" + included.identity + " includes itself)");
        }
        loadFile(included);
        current_ = &source;
      }
    }
    if (const auto node = root["policy"]) {
      const std::string text = scalar(node, "policy");
      Policy policy = Policy::Allowlist;
      if (text == "redact") {
        policy = Policy::Redact;
      } else if (text != "allowlist") {
        fail(posOf(node), "policy: expected allowlist or redact, got '" + text + "'");
      }
      setOnce(policy_, policy, node, "policy");
    }
    if (const auto node = root["action"]) {
      setOnce(action_, action(node, "action"), node, "action");
    }
    if (const auto node = root["mask"]) {
      setOnce(mask_, scalar(node, "mask"), node, "mask");
    }
    if (const auto node = root["drop_empty"]) {
      setOnce(drop_empty_, boolean(node, "drop_empty"), node, "drop_empty");
    }
    if (const auto node = root["envelope"]) {
      if (!node.IsSequence()) {
        fail(posOf(node), "envelope: expected a list of top-level keys");
      }
      std::vector<std::string> keys;
      for (const auto& item : node) {
        keys.push_back(scalar(item, "envelope"));
      }
      setOnce(envelope_, keys, node, "envelope");
    }
    if (const auto node = root["wildcard_keys"]) {
      const std::string text = scalar(node, "wildcard_keys");
      regex(node, "wildcard_keys"); // compiled here for the position of any error
      setOnce(wildcard_keys_, text, node, "wildcard_keys");
    }
    if (const auto node = root["hash_key"]) {
      loadHashKey(node);
    }
    if (const auto node = root["keep"]) {
      if (!node.IsSequence()) {
        fail(posOf(node), "keep: expected a list of rules");
      }
      for (const auto& item : node) {
        loadKeep(item);
      }
    }
    if (const auto node = root["deny"]) {
      if (!node.IsSequence()) {
        fail(posOf(node), "deny: expected a list of detectors");
      }
      for (const auto& item : node) {
        loadDetector(item);
      }
    }
    stack_.pop_back();
    current_ = previous;
  }

  void loadHashKey(const YAML::Node& node) {
    if (!node.IsMap()) {
      fail(posOf(node), "hash_key: expected a mapping with id and env or file");
    }
    checkKeys(node, "hash_key: ", {"id", "env", "file"});
    if (!node["id"]) {
      fail(posOf(node), "hash_key: missing 'id' (it goes into every pseudonym)");
    }
    HashKey key;
    key.id = scalar(node["id"], "hash_key.id");
    if (node["env"] && node["file"]) {
      fail(posOf(node), "hash_key: give either 'env' or 'file', not both");
    }
    if (const auto env = node["env"]) {
      const std::string name = scalar(env, "hash_key.env");
      const char* value =
          options_.get_env ? options_.get_env(name.c_str()) : std::getenv(name.c_str());
      if (value == nullptr || *value == '\0') {
        fail(posOf(env), "hash_key: environment variable '" + name + "' is not set");
      }
      key.secret = value;
    } else if (const auto file = node["file"]) {
      std::filesystem::path path = scalar(file, "hash_key.file");
      if (path.is_relative() && !current_->dir.empty()) {
        path = current_->dir / path;
      }
      std::ifstream in(path, std::ios::binary);
      std::stringstream buffer;
      buffer << in.rdbuf();
      if (!in) {
        fail(posOf(file), "hash_key: cannot read key file '" + path.string() + "'");
      }
      key.secret = buffer.str();
      while (!key.secret.empty() && (key.secret.back() == '\n' || key.secret.back() == '\r')) {
        key.secret.pop_back();
      }
    } else {
      fail(posOf(node), "hash_key: the key comes from 'env' or 'file', never inline");
    }
    if (key.secret.size() < 32) {
      fail(posOf(node), "hash_key: the key must be at least 32 bytes (a short key makes "
                        "pseudonyms guessable)");
    }
    if (rules_->hash_key && rules_->hash_key->id != key.id) {
      fail(posOf(node), "hash_key: a second key '" + key.id + "'; one rule set has one key");
    }
    rules_->hash_key = std::move(key);
    hash_key_pos_ = posOf(node);
  }

  void loadKeep(const YAML::Node& item) {
    if (item.IsScalar()) {
      // Shorthand: `- time` is `- path: time`.
      addKeep(item, nullptr);
      return;
    }
    if (!item.IsMap()) {
      fail(posOf(item), "keep: each entry is a path or a mapping with 'path'");
    }
    checkKeys(item, "keep: ", {"path", "value", "description"});
    if (!item["path"]) {
      fail(posOf(item), "keep: missing 'path'");
    }
    addKeep(item["path"], item["value"] ? &item : nullptr);
  }

  void addKeep(const YAML::Node& path_node, const YAML::Node* item) {
    const std::string text = scalar(path_node, "keep: path");
    auto parsed = parsePathPattern(text);
    if (!parsed.ok()) {
      fail(posOf(path_node), "keep: " + parsed.error().message);
    }
    KeepRule rule;
    rule.name = "keep:" + text;
    rule.path = std::move(parsed.value());
    rule.pos = posOf(path_node);
    if (item != nullptr) {
      rule.value = regex((*item)["value"], "keep '" + text + "': value");
    }
    rules_->keep.push_back(std::move(rule));
  }

  void loadDetector(const YAML::Node& item) {
    if (!item.IsMap()) {
      fail(posOf(item), "deny: each entry is a mapping with 'name'");
    }
    checkKeys(item, "deny: ", {"name", "pattern", "keys", "check", "action", "description"});
    if (!item["name"]) {
      fail(posOf(item), "deny: missing 'name'");
    }
    Detector detector;
    detector.name = scalar(item["name"], "deny: name");
    detector.pos = posOf(item["name"]);
    for (char c : detector.name) {
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-';
      if (!plain) {
        fail(detector.pos, "deny: name '" + detector.name +
                               "' may hold only letters, digits, '_' and '-' (it becomes a "
                               "metric label)");
      }
    }
    if (auto previous = detector_pos_.find(detector.name); previous != detector_pos_.end()) {
      fail(detector.pos, "deny: a second detector named '" + detector.name + "' (first at " +
                             previous->second.str() + ")");
    }
    const std::string what = "deny '" + detector.name + "'";
    if (item["pattern"]) {
      detector.pattern = regex(item["pattern"], what + ": pattern");
    }
    if (item["keys"]) {
      detector.keys = regex(item["keys"], what + ": keys");
    }
    if (!detector.pattern && !detector.keys) {
      fail(posOf(item), what + ": needs 'pattern', 'keys' or both");
    }
    if (const auto check = item["check"]) {
      const std::string name = scalar(check, what + ": check");
      const auto validator = validatorByName(name);
      if (!validator) {
        fail(posOf(check),
             what + ": check: unknown validator '" + name + "' (known: luhn, jmbg, iban)");
      }
      if (!detector.pattern) {
        fail(posOf(check), what + ": check needs a 'pattern' whose matches it validates");
      }
      detector.check = *validator;
    }
    if (const auto node = item["action"]) {
      detector.action = action(node, what + ": action");
      explicit_actions_.push_back({rules_->detectors.size(), posOf(node)});
    }
    detector_pos_[detector.name] = detector.pos;
    rules_->detectors.push_back(std::move(detector));
  }

  RuleSetPtr build() {
    RuleSet& rules = *rules_;
    rules.policy = policy_.value.value_or(Policy::Allowlist);
    rules.default_action =
        action_.value.value_or(rules.policy == Policy::Allowlist ? Action::Remove : Action::Mask);
    if (mask_.value) {
      rules.mask_format = *mask_.value;
    }
    rules.drop_empty = drop_empty_.value.value_or(true);
    rules.envelope = envelope_.value.value_or(std::vector<std::string>{});
    {
      RE2::Options options;
      options.set_max_mem(kRegexMaxMem);
      options.set_log_errors(false);
      rules.wildcard_keys =
          std::make_unique<const RE2>(wildcard_keys_.value.value_or(kDefaultWildcardKeys), options);
    }
    std::vector<bool> explicit_action(rules.detectors.size(), false);
    for (const auto& [index, pos] : explicit_actions_) {
      explicit_action[index] = true;
    }
    for (size_t i = 0; i < rules.detectors.size(); ++i) {
      if (!explicit_action[i]) {
        rules.detectors[i].action = rules.default_action;
      }
    }
    if (!rules.hash_key) {
      if (action_.value == Action::Hash) {
        fail(action_.pos, "action: hash needs a hash_key (from env or file)");
      }
      for (const auto& [index, pos] : explicit_actions_) {
        if (rules.detectors[index].action == Action::Hash) {
          fail(pos, "deny '" + rules.detectors[index].name +
                        "': action: hash needs a hash_key (from env or file)");
        }
      }
    }
    if (rules.name.empty()) {
      rules.name = "rules";
    }
    if (auto status = rules.finalize(); !status.ok()) {
      throw LoadFailure{status.error()};
    }
    return rules_;
  }

  const LoadOptions& options_;
  std::shared_ptr<RuleSet> rules_ = std::make_shared<RuleSet>();
  const SourceText* current_ = nullptr;
  std::vector<std::string> stack_;
  std::set<std::string> loaded_;
  std::map<std::string, SourcePos> detector_pos_;
  std::vector<std::pair<size_t, SourcePos>> explicit_actions_;
  Setting<Policy> policy_;
  Setting<Action> action_;
  Setting<std::string> mask_;
  Setting<bool> drop_empty_;
  Setting<std::vector<std::string>> envelope_;
  Setting<std::string> wildcard_keys_;
  SourcePos hash_key_pos_;
};

Result<LoadedRules> loadSources(Loader& loader, const std::vector<SourceText>& roots) {
  try {
    LoadedRules loaded;
    loaded.rules = loader.loadAll(roots);
    loaded.warnings = lintRuleSet(*loaded.rules);
    return loaded;
  } catch (const LoadFailure& failure) {
    return failure.error;
  } catch (const YAML::Exception& e) {
    return Error{"rules: YAML: " + e.msg};
  }
}

} // namespace

Result<LoadedRules> loadRules(const std::vector<std::string>& specs, const LoadOptions& options) {
  Loader loader(options);
  std::vector<SourceText> roots;
  try {
    const std::vector<std::string> defaults = {std::string(kDefaultPack)};
    for (const auto& spec : specs.empty() ? defaults : specs) {
      roots.push_back(loader.readSpec(spec, {}, nullptr));
    }
  } catch (const LoadFailure& failure) {
    return failure.error;
  }
  return loadSources(loader, roots);
}

Result<LoadedRules> loadRulesFromText(std::string_view text, std::string_view file_name,
                                      const LoadOptions& options) {
  Loader loader(options);
  const std::filesystem::path path(file_name);
  return loadSources(loader, {SourceText{std::string(file_name), std::string(text),
                                         path.parent_path(), std::string(file_name)}});
}

} // namespace scrub::rules
