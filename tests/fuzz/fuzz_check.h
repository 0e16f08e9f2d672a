#pragma once

// Shared by the fuzz targets: an invariant that does not hold aborts the run (libFuzzer saves the
// input as a crash file). The message names the invariant only, never the input: fuzz inputs are
// synthetic, but the habit of not printing payload is kept everywhere.

#include <cstdio>
#include <cstdlib>

#define SCRUB_FUZZ_CHECK(condition, what)                                                          \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      std::fprintf(stderr, "fuzz invariant broken: %s (%s:%d)\n", what, __FILE__, __LINE__);       \
      std::abort();                                                                                \
    }                                                                                              \
  } while (false)
