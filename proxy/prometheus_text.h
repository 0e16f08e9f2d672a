#pragma once

// Builds a page in the Prometheus text exposition format (version 0.0.4): families with their
// `# HELP` and `# TYPE` lines, then samples with escaped label values. Pure text; no I/O.
//
// Label values here are listener, sink, rule and reason names from the configuration and the rule
// files, never anything from payload: the caller's contract, which this class cannot check.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace scrub::proxy {

class PrometheusText {
public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  // Starts a family; its samples follow. `type` is counter, gauge or histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, Labels labels, uint64_t value);
  void sample(std::string_view name, Labels labels, double value);

  const std::string& text() const { return text_; }

  // `\` `"` and newline escaped, as the format asks of label values.
  static void appendLabelValue(std::string& out, std::string_view value);

private:
  void begin(std::string_view name, Labels labels);

  std::string text_;
};

} // namespace scrub::proxy
