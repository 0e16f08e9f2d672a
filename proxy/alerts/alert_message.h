#pragma once

// The words of a PII-attempt alert: one line for the proxy's log and a Slack-compatible JSON
// body (`text`, which Slack and Mattermost show, plus the same facts as fields for other
// receivers). Built only from a PiiAttemptSummary, so it can hold nothing else.

#include <chrono>
#include <string>

#include "proxy/alerts/pii_attempts.h"

namespace scrub::proxy {

std::string alertText(const PiiAttemptSummary& summary, std::chrono::milliseconds window);
std::string alertJson(const PiiAttemptSummary& summary, std::chrono::milliseconds window);

} // namespace scrub::proxy
