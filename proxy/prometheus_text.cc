#include "proxy/prometheus_text.h"

#include <fmt/format.h>

namespace scrub::proxy {

void PrometheusText::appendLabelValue(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
    case '\\':
      out += "\\\\";
      break;
    case '"':
      out += "\\\"";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      out.push_back(c);
    }
  }
}

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_.push_back(' ');
  for (const char c : help) {
    // HELP escapes only backslash and newline.
    if (c == '\\') {
      text_ += "\\\\";
    } else if (c == '\n') {
      text_ += "\\n";
    } else {
      text_.push_back(c);
    }
  }
  text_ += "\n# TYPE ";
  text_ += name;
  text_.push_back(' ');
  text_ += type;
  text_.push_back('\n');
}

void PrometheusText::begin(std::string_view name, Labels labels) {
  text_ += name;
  if (labels.size() > 0) {
    text_.push_back('{');
    bool first = true;
    for (const auto& [label, value] : labels) {
      if (!first) {
        text_.push_back(',');
      }
      first = false;
      text_ += label;
      text_ += "=\"";
      appendLabelValue(text_, value);
      text_.push_back('"');
    }
    text_.push_back('}');
  }
  text_.push_back(' ');
}

void PrometheusText::sample(std::string_view name, Labels labels, uint64_t value) {
  begin(name, labels);
  text_ += std::to_string(value);
  text_.push_back('\n');
}

void PrometheusText::sample(std::string_view name, Labels labels, double value) {
  begin(name, labels);
  text_ += fmt::format("{}", value);
  text_.push_back('\n');
}

} // namespace scrub::proxy
