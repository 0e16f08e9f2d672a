#pragma once

// The checks behind `scrubproxy doctor`: an audit of one deployment (its ProxyConfig, the rule
// sets its listeners load, and facts about the process and its files) against the compliance
// checklists in the design's seeds. Pure: the facts are gathered elsewhere (doctor_facts.h), so
// every check runs in a test without root, real files or a network. Never reports a secret's
// value, only where it is configured.

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "config/proxy_config.h"
#include "rules/rule_set.h"

namespace scrub::doctor {

enum class Severity : uint8_t { Error, Warning, Info };
std::string_view severityName(Severity severity);

// One item of a checklist in the design's seeds (/work/shared/seeds): the file, the item as the
// checklist numbers or titles it, and a short label for terminals.
struct ChecklistItem {
  std::string_view seed;  // file name under seeds/
  std::string_view item;  // "4" (numbered checklist) or the item's title
  std::string_view label; // "UNICARE #4", "OpenCRVS: Setup DNS & TLS (HTTPS)"
};

struct Finding {
  std::string id; // stable, kebab-case: what scripts match on
  Severity severity = Severity::Info;
  ChecklistItem checklist;
  std::string message; // one line: what is wrong and where (file:line:col when known)
  std::string fix;     // one line: what to do
};

// The rules one or more listeners load (listeners with the same specs share one entry).
struct LoadedRuleSet {
  std::vector<std::string> listeners; // names
  rules::RuleSetPtr rules;
};

inline constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

struct ProcessFacts {
  uint32_t euid = 0;
  uint64_t core_soft_limit = 0; // kUnlimited for RLIM_INFINITY
  uint64_t core_hard_limit = 0;
  int dumpable = 0;         // PR_GET_DUMPABLE; -1 unknown
  std::string core_pattern; // /proc/sys/kernel/core_pattern ('|' pipes ignore RLIMIT_CORE)
};

struct FileFacts {
  enum class Role : uint8_t { Config, Rules, TlsKey };
  Role role = Role::Config;
  std::string path;
  bool exists = false;
  uint32_t mode = 0;         // st_mode permission bits of the file (symlinks followed)
  bool read_only_fs = false; // on a read-only mount: nobody can write it whatever the mode
  bool dir_known = false;    // the folder holding the name (its entries can be replaced)
  uint32_t dir_mode = 0;     // including S_ISVTX
  bool dir_read_only_fs = false;
};

// The certificate a listener serves or a sink presents (the first in its PEM file).
struct CertificateFacts {
  std::string path;
  std::string owner;      // "listener 'runners'", "sink 'central'"
  bool read = false;      // a PEM certificate was read from the file
  int64_t not_before = 0; // Unix seconds
  int64_t not_after = 0;
  std::string subject;
};

struct DoctorInput {
  const config::ProxyConfig* config = nullptr;
  std::vector<LoadedRuleSet> rule_sets;
  ProcessFacts process;
  std::vector<FileFacts> files;
  std::vector<CertificateFacts> certificates;
  int64_t now = 0; // Unix seconds, for the certificates' validity
};

// A certificate that ends within this is reported (a warning) so it is renewed in time.
inline constexpr int64_t kCertificateWarnSeconds = 14 * 24 * 3600;

// Every check, findings in a fixed order: errors first, then warnings, then infos; within a
// severity in the order the checks and the config list them.
std::vector<Finding> runChecks(const DoctorInput& input);

// The individual checks, for tests; each appends to `out`.
void checkListeners(const config::ProxyConfig& config, std::vector<Finding>& out);
void checkCredentials(const config::ProxyConfig& config, std::vector<Finding>& out);
void checkSinks(const config::ProxyConfig& config, std::vector<Finding>& out);
void checkAdmin(const config::ProxyConfig& config, std::vector<Finding>& out);
void checkRules(const std::vector<LoadedRuleSet>& rule_sets, std::vector<Finding>& out);
void checkFiles(const std::vector<FileFacts>& files, std::vector<Finding>& out);
void checkProcess(const ProcessFacts& process, std::vector<Finding>& out);
void checkCertificates(const std::vector<CertificateFacts>& certificates, int64_t now,
                       std::vector<Finding>& out);

// Keys whose values are free text written by people (a keep rule without a value contract on one
// lets whatever a job logs there leave): `message`, `note`, `name`, `description`, … and any
// `…_name`. Compares the last part of a Kobo `group/field` key, case-insensitively.
bool isFreeTextKey(std::string_view key);

// Header names that carry credentials: Authorization, Cookie, and any holding token, key, secret,
// password or credential.
bool isCredentialHeader(std::string_view name);

} // namespace scrub::doctor
