// proxy/prometheus_text: families, labels and the escapes of the text exposition format.

#include <catch2/catch.hpp>

#include "proxy/prometheus_text.h"

using namespace scrub::proxy;

TEST_CASE("prometheus text: families, samples and escaped label values", "[proxy][metrics]") {
  PrometheusText m;
  m.family("x_total", "counter", "Help with a \\ and\na newline.");
  m.sample("x_total", {{"rule", R"(keep:"a.b"\c)"}, {"listener", "in"}}, uint64_t{3});
  m.sample("x_total", {}, 0.25);
  CHECK(m.text() == "# HELP x_total Help with a \\\\ and\\na newline.\n"
                    "# TYPE x_total counter\n"
                    "x_total{rule=\"keep:\\\"a.b\\\"\\\\c\",listener=\"in\"} 3\n"
                    "x_total 0.25\n");
}
