#pragma once

// How `scrubproxy doctor` prints its findings: text for people, JSON for scripts and CI.

#include <string>
#include <vector>

#include "proxy/doctor/doctor_checks.h"

namespace scrub::doctor {

// One block per finding, then a summary line:
//   error    listener-public-no-tls  proxy.yaml:5:13: listener 'runners' (...) is reachable ...
//            fix: listen on tls:// ...
//            checklist: OpenCRVS: Setup DNS & TLS (HTTPS) [seeds/003_....txt]
//   doctor: 2 errors, 1 warning, 0 infos
std::string renderText(const std::vector<Finding>& findings);

// {"findings":[{"id":…,"severity":…,"message":…,"fix":…,
//   "checklist":{"seed":…,"item":…,"label":…}}…],"errors":N,"warnings":N,"infos":N}
std::string renderJson(const std::vector<Finding>& findings);

bool hasErrors(const std::vector<Finding>& findings);

} // namespace scrub::doctor
