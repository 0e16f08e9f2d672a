#include "proxy/doctor/doctor_checks.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <set>

namespace scrub::doctor {
namespace {

// The checklist items the findings answer to. seeds/000: the UNICARE BiH (Inform and Primero)
// security & compliance checklist, numbered items; seeds/003: the OpenCRVS pre-deployment
// checklist, items by title.
constexpr std::string_view kUnicare = "000_33300e7848f53676.txt";
constexpr std::string_view kOpenCrvs = "003_5cf825bcf5d69b6c.txt";

constexpr ChecklistItem kZeroPersistence{kUnicare, "2", "UNICARE #2 (zero persistence)"};
constexpr ChecklistItem kLoggedData{kUnicare, "4",
                                    "UNICARE #4 (logs: only system IDs and timestamps)"};
constexpr ChecklistItem kLeastAccess{kUnicare, "5", "UNICARE #5 (only relevant access)"};
constexpr ChecklistItem kWebhookAuth{kUnicare, "6", "UNICARE #6 (webhook authentication)"};
constexpr ChecklistItem kChangeManagement{kUnicare, "14",
                                          "UNICARE #14 (change management process)"};
constexpr ChecklistItem kTls{kOpenCrvs, "Setup DNS & TLS (HTTPS)",
                             "OpenCRVS: Setup DNS & TLS (HTTPS)"};
constexpr ChecklistItem kCertificateValid{kOpenCrvs, "Your SSL certificate should be valid.",
                                          "OpenCRVS: the SSL certificate should be valid"};
constexpr ChecklistItem kFirewall{kOpenCrvs,
                                  "Verify firewall hides all ports from the public internet",
                                  "OpenCRVS: firewall hides all ports from the public internet"};
constexpr ChecklistItem kPasswords{
    kOpenCrvs,
    "Are National System Admin passwords updated, minimum 12 chars long and stored in a "
    "Password Manager.",
    "OpenCRVS: passwords minimum 12 chars, stored in a password manager"};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "file:line:col: " for something declared in a file, "" for what came from a flag.
std::string at(const SourcePos& pos) {
  return pos.file.empty() || pos.line == 0 ? std::string() : pos.str() + ": ";
}

void add(std::vector<Finding>& out, std::string id, Severity severity, const ChecklistItem& item,
         std::string message, std::string fix) {
  out.push_back({std::move(id), severity, item, std::move(message), std::move(fix)});
}

size_t distinctBytes(std::string_view text) {
  return std::set<char>(text.begin(), text.end()).size();
}

std::string listNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    out += (out.empty() ? "'" : ", '") + name + "'";
  }
  return out;
}

std::string octal(uint32_t mode) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "%04o", mode & 07777u);
  return text.data();
}

std::string_view roleName(FileFacts::Role role) {
  switch (role) {
  case FileFacts::Role::Config:
    return "config file";
  case FileFacts::Role::Rules:
    return "rules file";
  case FileFacts::Role::TlsKey:
    return "TLS private key";
  }
  return "file";
}

// The last key a keep path names: `message[]` -> message, `a.b.note` -> note; empty when the
// path ends in a wildcard key.
std::string lastKey(const rules::PathPattern& path) {
  for (auto it = path.segments.rbegin(); it != path.segments.rend(); ++it) {
    if (it->kind == rules::PathSegment::Kind::AnyIndex) {
      continue;
    }
    return it->kind == rules::PathSegment::Kind::Key ? it->key : std::string();
  }
  return {};
}

} // namespace

std::string_view severityName(Severity severity) {
  switch (severity) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Info:
    return "info";
  }
  return "info";
}

bool isFreeTextKey(std::string_view key) {
  // Kobo writes `group/field`: the field's own name decides.
  if (const auto slash = key.rfind('/'); slash != std::string_view::npos) {
    key.remove_prefix(slash + 1);
  }
  const std::string k = lower(key);
  static const std::set<std::string, std::less<>> kFreeText = {
      "message",     "msg",     "messages",   "note",      "notes",   "name",     "names",
      "description", "desc",    "comment",    "comments",  "text",    "body",     "content",
      "details",     "remarks", "summary",    "reason",    "address", "subject",  "title",
      "payload",     "data",    "submission", "narrative", "story",   "fullname", "surname"};
  return kFreeText.contains(k) || k.ends_with("_name") || k.ends_with("-name");
}

bool isCredentialHeader(std::string_view name) {
  const std::string n = lower(name);
  if (n == "authorization" || n == "proxy-authorization" || n == "cookie") {
    return true;
  }
  for (std::string_view part : {"token", "key", "secret", "password", "passwd", "credential"}) {
    if (n.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

void checkListeners(const config::ProxyConfig& config, std::vector<Finding>& out) {
  for (const auto& listener : config.listeners) {
    if (config::isLocalOnly(listener.address)) {
      continue;
    }
    const std::string where = at(listener.listen_pos) + "listener '" + listener.name + "' (" +
                              listener.address.url() + ")";
    if (!listener.address.tls) {
      add(out, "listener-public-no-tls", Severity::Error, kTls,
          where + " is reachable from the network without TLS",
          listener.address.http
              ? "listen on https:// with a tls: block (cert_file, key_file), or bind 127.0.0.1"
              : "listen on tls:// with a tls: block (cert_file, key_file), or bind 127.0.0.1 or a "
                "unix socket");
    }
    const bool client_certs = listener.address.tls && !listener.tls.client_ca_file.empty();
    const bool authenticated =
        client_certs || (listener.address.http && listener.http.authRequired());
    if (!authenticated) {
      add(out, "listener-public-no-auth", Severity::Error, kWebhookAuth,
          where + " accepts log lines from the network without authentication",
          listener.address.http
              ? "add http.api_keys or http.basic_users (from ${env:} or ${file:}), or "
                "--api-key-env NAME, or tls.client_ca_file for client certificates"
              : "require client certificates (tls:// with tls.client_ca_file), or bind 127.0.0.1 "
                "or a unix socket");
    }
  }
}

void checkCredentials(const config::ProxyConfig& config, std::vector<Finding>& out) {
  for (const auto& listener : config.listeners) {
    const std::string where = at(listener.pos) + "listener '" + listener.name + "'";
    for (const auto& key : listener.http.api_keys) {
      if (key.secret.size() < config::kMinApiKeyBytes) {
        add(out, "api-key-short", Severity::Error, kPasswords,
            where + ": API key '" + key.id + "' is shorter than " +
                std::to_string(config::kMinApiKeyBytes) + " characters",
            "generate one with `openssl rand -base64 33` and keep it in a secret store");
      } else if (distinctBytes(key.secret) < 8) {
        add(out, "api-key-weak", Severity::Warning, kPasswords,
            where + ": API key '" + key.id + "' uses fewer than 8 different characters",
            "generate one with `openssl rand -base64 33`");
      }
    }
    for (const auto& user : listener.http.basic_users) {
      if (user.password.size() < config::kMinPasswordBytes) {
        add(out, "password-short", Severity::Error, kPasswords,
            where + ": the password of basic user '" + user.user + "' is shorter than " +
                std::to_string(config::kMinPasswordBytes) + " characters",
            "use a generated password of 12+ characters kept in a password manager");
      } else if (distinctBytes(user.password) < 6 ||
                 lower(user.password).find(lower(user.user)) != std::string::npos) {
        add(out, "password-weak", Severity::Warning, kPasswords,
            where + ": the password of basic user '" + user.user +
                "' contains the user name or repeats a few characters",
            "use a generated password kept in a password manager");
      }
    }
  }
  for (const auto& sink : config.sinks) {
    for (const auto& name : sink.http.literal_headers) {
      if (isCredentialHeader(name)) {
        add(out, "secret-inline", Severity::Error, kPasswords,
            at(sink.pos) + "sink '" + sink.name + "': header '" + name +
                "' looks like a credential and is written in the config file",
            "write it as ${env:NAME} or ${file:PATH} and keep the value in a secret store");
      }
    }
  }
}

void checkSinks(const config::ProxyConfig& config, std::vector<Finding>& out) {
  for (const auto& sink : config.sinks) {
    if (sink.address.kind != config::Address::Kind::Tcp || config::isLocalOnly(sink.address)) {
      continue;
    }
    const std::string where =
        at(sink.pos) + "sink '" + sink.name + "' (" + sink.address.url() + ")";
    if (!sink.address.tls && sink.address.http) {
      add(out, "sink-plain-http", Severity::Error, kTls,
          where + " sends records and headers over the network in plain HTTP",
          "use https:// (the peer is verified against the system CAs or tls.ca_file)");
    } else if (!sink.address.tls) {
      add(out, "sink-plain-tcp", Severity::Error, kTls,
          where + " sends records over the network without TLS",
          "use tls:// (the peer is verified against the system CAs or tls.ca_file)");
    } else if (sink.tls.insecure_skip_verify) {
      add(out, "sink-tls-unverified", Severity::Error, kTls,
          where + " does not verify the sink's certificate (tls.insecure_skip_verify)",
          "remove insecure_skip_verify; give the sink's CA in tls.ca_file");
    }
  }
}

void checkAdmin(const config::ProxyConfig& config, std::vector<Finding>& out) {
  const auto& admin = config.admin;
  if (!admin.enabled || config::isLocalOnly(admin.address)) {
    return;
  }
  // /metrics names listeners, sinks and rules, /rules the loaded files; none of it is for the
  // network, and the endpoint has no authentication.
  add(out, "admin-public", Severity::Error, kFirewall,
      at(admin.pos) + "the admin endpoint (" + admin.address.url() +
          ") is reachable from the network, without authentication",
      "bind it to 127.0.0.1 (the default; probes run inside the pod or host), or `admin: "
      "{listen: off}`");
}

void checkRules(const std::vector<LoadedRuleSet>& rule_sets, std::vector<Finding>& out) {
  for (const auto& set : rule_sets) {
    if (!set.rules) {
      continue;
    }
    const auto& rules = *set.rules;
    const std::string whose = "rules '" + rules.name + "' (listener" +
                              (set.listeners.size() == 1 ? " " : "s ") + listNames(set.listeners) +
                              ")";
    if (!rules.hash_key) {
      bool hashes = rules.default_action == rules::Action::Hash;
      for (const auto& detector : rules.detectors) {
        hashes = hashes || detector.action == rules::Action::Hash;
      }
      if (hashes) {
        add(out, "hash-without-key", Severity::Error, kLoggedData,
            whose + ": action hash without a hash_key (pseudonyms without a secret can be "
                    "reversed by hashing guesses)",
            "add hash_key: {id: ..., env: NAME} or {id: ..., file: PATH} with 32+ random bytes");
      }
    }
    for (const auto& keep : rules.keep) {
      if (keep.value || !isFreeTextKey(lastKey(keep.path))) {
        continue;
      }
      add(out, "keep-free-text", Severity::Error, kLoggedData,
          at(keep.pos) + whose + ": keep '" + keep.path.text +
              "' has no value contract, so any text a job logs there (a name, a whole "
              "submission) passes",
          "add `value:` with the exact texts allowed (see openfn-retry-ids' message contract), "
          "or drop the rule");
    }
  }
}

void checkFiles(const std::vector<FileFacts>& files, std::vector<Finding>& out) {
  constexpr uint32_t kGroupWrite = 0020;
  constexpr uint32_t kOtherWrite = 0002;
  constexpr uint32_t kGroupOtherRead = 0044;
  constexpr uint32_t kSticky = 01000;
  for (const auto& file : files) {
    if (!file.exists) {
      continue;
    }
    const std::string what = std::string(roleName(file.role)) + " " + file.path;
    const ChecklistItem& item =
        file.role == FileFacts::Role::TlsKey ? kLeastAccess : kChangeManagement;
    if (!file.read_only_fs && (file.mode & kOtherWrite) != 0) {
      add(out, "file-writable-by-others", Severity::Error, item,
          what + " is writable by every user (mode " + octal(file.mode) + ")",
          "chmod o-w " + file.path + " (and keep it owned by the deployer, not the proxy's user)");
    } else if (!file.read_only_fs && (file.mode & kGroupWrite) != 0) {
      add(out, "file-writable-by-group", Severity::Warning, item,
          what + " is writable by its group (mode " + octal(file.mode) + ")",
          "chmod g-w " + file.path + " unless that group is exactly the rule owners");
    }
    if (file.dir_known && !file.dir_read_only_fs && (file.dir_mode & kOtherWrite) != 0 &&
        (file.dir_mode & kSticky) == 0) {
      add(out, "dir-writable-by-others", Severity::Error, item,
          "the folder holding " + what + " is writable by every user (mode " +
              octal(file.dir_mode) + "): anyone can replace the file",
          "chmod o-w the folder, or move the file to a folder only its owner can write");
    }
    if (file.role == FileFacts::Role::TlsKey && (file.mode & kGroupOtherRead) != 0) {
      add(out, "tls-key-readable", Severity::Error, kLeastAccess,
          what + " is readable by other users (mode " + octal(file.mode) + ")",
          "chmod 0600 " + file.path + " (0640 with a group only the proxy's user is in)");
    }
  }
}

void checkProcess(const ProcessFacts& process, std::vector<Finding>& out) {
  if (process.euid == 0) {
    add(out, "running-as-root", Severity::Warning, kLeastAccess,
        "this process runs as root: the proxy needs no privilege (ports above 1023, files it "
        "only reads)",
        "run it as a dedicated user (systemd DynamicUser=yes, container USER / runAsNonRoot); run "
        "doctor as that user to audit what it sees");
  }
  const bool piped = process.core_pattern.starts_with("|");
  if (process.dumpable != 0 && (process.core_soft_limit > 0 || piped)) {
    const std::string limit = process.core_soft_limit == kUnlimited
                                  ? std::string("unlimited")
                                  : std::to_string(process.core_soft_limit);
    add(out, "core-dumps-possible", Severity::Info, kZeroPersistence,
        "core dumps are possible in this environment (RLIMIT_CORE " + limit +
            (piped ? ", core_pattern pipes to a handler" : "") +
            "); `scrubproxy run` turns them off itself at start (RLIMIT_CORE 0, PR_SET_DUMPABLE 0)",
        "also set LimitCORE=0 (systemd) or `ulimit -c 0`, so nothing before start-up can dump");
  }
}

void checkCertificates(const std::vector<CertificateFacts>& certificates, int64_t now,
                       std::vector<Finding>& out) {
  constexpr int64_t kDay = 24 * 3600;
  auto days = [](int64_t n) { return std::to_string(n) + (n == 1 ? " day" : " days"); };
  for (const auto& cert : certificates) {
    const std::string what = "the certificate " + cert.path + " of " + cert.owner;
    if (!cert.read) {
      add(out, "tls-cert-unreadable", Severity::Error, kCertificateValid,
          what + " cannot be read as a PEM certificate: `scrubproxy run` will not start",
          "point cert_file at the PEM certificate (chain), readable by the proxy's user");
      continue;
    }
    const std::string named = what + " (" + cert.subject + ")";
    if (now >= cert.not_after) {
      add(out, "tls-cert-expired", Severity::Error, kCertificateValid,
          named + " expired " + days((now - cert.not_after) / kDay) +
              " ago: peers that verify it refuse the connection",
          "renew it and SIGHUP the proxy (running connections keep the old one)");
    } else if (now < cert.not_before) {
      add(out, "tls-cert-not-yet-valid", Severity::Error, kCertificateValid,
          named + " is valid only from " + days((cert.not_before - now) / kDay + 1) +
              " from now: peers that verify it refuse the connection",
          "check the clock of this host and of the machine that issued it");
    } else if (cert.not_after - now < kCertificateWarnSeconds) {
      add(out, "tls-cert-expiring", Severity::Warning, kCertificateValid,
          named + " expires in " + days((cert.not_after - now) / kDay),
          "renew it (cert-manager, ACME) and SIGHUP the proxy; the proxy reloads certificate "
          "files only on SIGHUP");
    }
  }
}

std::vector<Finding> runChecks(const DoctorInput& input) {
  std::vector<Finding> out;
  if (input.config != nullptr) {
    checkListeners(*input.config, out);
    checkCredentials(*input.config, out);
    checkSinks(*input.config, out);
    checkAdmin(*input.config, out);
  }
  checkRules(input.rule_sets, out);
  checkFiles(input.files, out);
  checkProcess(input.process, out);
  checkCertificates(input.certificates, input.now, out);
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    return static_cast<int>(a.severity) < static_cast<int>(b.severity);
  });
  return out;
}

} // namespace scrub::doctor
