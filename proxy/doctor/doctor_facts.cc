#include "proxy/doctor/doctor_facts.h"

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace scrub::doctor {
namespace {

uint64_t limitValue(rlim_t value) {
  return value == RLIM_INFINITY ? kUnlimited : static_cast<uint64_t>(value);
}

bool unixSeconds(const ASN1_TIME* time, int64_t& out) {
  tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return false;
  }
  out = static_cast<int64_t>(::timegm(&parts));
  return true;
}

bool onReadOnlyMount(const std::string& path) {
  struct statvfs fs {};
  return ::statvfs(path.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY) != 0;
}

} // namespace

ProcessFacts gatherProcessFacts() {
  ProcessFacts facts;
  facts.euid = static_cast<uint32_t>(::geteuid());
  rlimit core{};
  if (::getrlimit(RLIMIT_CORE, &core) == 0) {
    facts.core_soft_limit = limitValue(core.rlim_cur);
    facts.core_hard_limit = limitValue(core.rlim_max);
  }
  facts.dumpable = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  std::ifstream pattern("/proc/sys/kernel/core_pattern");
  std::getline(pattern, facts.core_pattern);
  return facts;
}

FileFacts gatherFileFacts(const std::string& path, FileFacts::Role role) {
  FileFacts facts;
  facts.role = role;
  facts.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return facts;
  }
  facts.exists = true;
  facts.mode = st.st_mode & 07777u;
  facts.read_only_fs = onReadOnlyMount(path);
  // The folder of the name as given, not of a symlink's target: whoever may write this folder
  // can point the name elsewhere.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) {
    dir = ".";
  }
  struct stat dir_st {};
  if (::stat(dir.c_str(), &dir_st) == 0) {
    facts.dir_known = true;
    facts.dir_mode = dir_st.st_mode & 07777u;
    facts.dir_read_only_fs = onReadOnlyMount(dir);
  }
  return facts;
}

CertificateFacts gatherCertificateFacts(const std::string& path, std::string owner) {
  CertificateFacts facts;
  facts.path = path;
  facts.owner = std::move(owner);
  BIO* file = BIO_new_file(path.c_str(), "r");
  if (file == nullptr) {
    return facts;
  }
  X509* cert = PEM_read_bio_X509(file, nullptr, nullptr, nullptr);
  BIO_free(file);
  if (cert == nullptr) {
    return facts;
  }
  char subject[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  facts.subject = subject;
  facts.read = unixSeconds(X509_get0_notBefore(cert), facts.not_before) &&
               unixSeconds(X509_get0_notAfter(cert), facts.not_after);
  X509_free(cert);
  return facts;
}

} // namespace scrub::doctor
