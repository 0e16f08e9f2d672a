#pragma once

// What `scrubproxy doctor` looks up about the process it runs in and the files a deployment
// reads: the impure half of the audit, kept apart so the checks (doctor_checks.h) stay pure.
// Nothing here opens a file for writing or reads a file's content but certificates' (public);
// otherwise stat/statvfs, getrlimit, prctl and /proc/sys/kernel/core_pattern.

#include <string>

#include "proxy/doctor/doctor_checks.h"

namespace scrub::doctor {

ProcessFacts gatherProcessFacts();

// stat() of the file (symlinks followed, as a ConfigMap's are) and of the folder holding the
// name; `exists` false when it cannot be stat'ed.
FileFacts gatherFileFacts(const std::string& path, FileFacts::Role role);

// The first certificate of a PEM file: its subject and validity. `read` false when the file
// cannot be opened or holds no PEM certificate.
CertificateFacts gatherCertificateFacts(const std::string& path, std::string owner);

} // namespace scrub::doctor
