// `scrubproxy doctor`: audits a deployment before go-live. It reads the config exactly as `run`
// would (same flags, same file, same checks: buildRunConfig), loads every listener's rules,
// looks at the process and the files, and reports findings against the seeds' checklists.
// Exit 0: no error finding; 1: at least one; 2-5: as `run` (the config or rules do not load).

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>

#include "config/default_config.h"
#include "proxy/cli/commands.h"
#include "proxy/cli/run_options.h"
#include "proxy/doctor/doctor_checks.h"
#include "proxy/doctor/doctor_facts.h"
#include "proxy/doctor/doctor_report.h"
#include "rules/rule_loader.h"

namespace scrub::cli {

int doctorCommand(const Args& args) {
  // Everything but --json is a `run` flag.
  Args run_args;
  bool json = false;
  for (const auto& arg : args) {
    if (arg == "--json") {
      json = true;
    } else {
      run_args.push_back(arg);
    }
  }
  RunConfig run = buildRunConfig(run_args);
  if (!run.ok()) {
    std::fprintf(stderr, "scrubproxy doctor: %s\n", run.error.c_str());
    return static_cast<int>(run.code);
  }
  const config::ProxyConfig& config = run.config;

  doctor::DoctorInput input;
  input.config = &config;
  // Listeners with the same rule specs share one rule set, and its findings.
  std::vector<std::vector<std::string>> loaded_specs;
  for (const auto& listener : config.listeners) {
    const auto same = std::find(loaded_specs.begin(), loaded_specs.end(), listener.rules);
    if (same != loaded_specs.end()) {
      input.rule_sets[static_cast<size_t>(same - loaded_specs.begin())].listeners.push_back(
          listener.name);
      continue;
    }
    auto loaded = rules::loadRules(listener.rules);
    if (!loaded.ok()) {
      std::fprintf(stderr, "scrubproxy doctor: %s (rules of listener '%s' not loaded)\n",
                   loaded.error().message.c_str(), listener.name.c_str());
      return static_cast<int>(proxy::ExitCode::RulesInvalid);
    }
    loaded_specs.push_back(listener.rules);
    input.rule_sets.push_back({{listener.name}, loaded->rules});
  }

  input.process = doctor::gatherProcessFacts();
  std::set<std::string> seen;
  auto addFile = [&](const std::string& path, doctor::FileFacts::Role role) {
    if (!path.empty() && seen.insert(path).second) {
      input.files.push_back(doctor::gatherFileFacts(path, role));
    }
  };
  if (config.source != config::kDefaultConfigName) {
    addFile(config.source, doctor::FileFacts::Role::Config);
  }
  for (const auto& set : input.rule_sets) {
    for (const auto& source : set.rules->sources) {
      if (!source.file.starts_with("builtin:")) {
        addFile(source.file, doctor::FileFacts::Role::Rules);
      }
    }
  }
  auto addTls = [&](const std::string& cert_file, const std::string& key_file,
                    const std::string& owner) {
    addFile(key_file, doctor::FileFacts::Role::TlsKey);
    if (!cert_file.empty()) {
      input.certificates.push_back(doctor::gatherCertificateFacts(cert_file, owner));
    }
  };
  for (const auto& listener : config.listeners) {
    addTls(listener.tls.cert_file, listener.tls.key_file, "listener '" + listener.name + "'");
  }
  for (const auto& sink : config.sinks) {
    addTls(sink.tls.cert_file, sink.tls.key_file, "sink '" + sink.name + "'");
  }
  input.now = static_cast<int64_t>(std::time(nullptr));

  const auto findings = doctor::runChecks(input);
  const std::string report = json ? doctor::renderJson(findings) : doctor::renderText(findings);
  std::fputs(report.c_str(), stdout);
  return doctor::hasErrors(findings) ? 1 : 0;
}

} // namespace scrub::cli
