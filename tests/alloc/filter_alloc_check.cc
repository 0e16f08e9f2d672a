// The filter's promise "no allocation per line once its buffers have grown", checked: this
// executable replaces the global operator new to count calls (which is why it is not part of
// scrub_tests), runs a generated corpus through each shipped pack twice to let every buffer,
// cache and RE2 DFA grow, then counts the allocations of a third pass, telling apart by their
// call stacks the ones made inside RE2::Set::Match: RE2 allocates its hit set (three blocks)
// whenever it is asked which patterns matched, which the filter does only for a value the
// combined detector set matched. Every other allocation fails the check.

#include <dlfcn.h>
#include <execinfo.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "filters/line_filter.h"
#include "proxy/synthetic_corpus.h"
#include "rules/rule_loader.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
std::atomic<uint64_t> g_in_re2_set{0}; // of those, made inside RE2::Set::Match
bool g_classify = false;               // look at call stacks (the measured pass only)
thread_local bool t_classifying = false;

bool calledFromRe2SetMatch() {
  void* frames[12];
  const int count = backtrace(frames, 12);
  for (int i = 0; i < count; ++i) {
    Dl_info info;
    if (dladdr(frames[i], &info) != 0 && info.dli_sname != nullptr &&
        std::strstr(info.dli_sname, "3re23RE23Set5Match") != nullptr) {
      return true;
    }
  }
  return false;
}

void* counted(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (g_classify && !t_classifying) {
    t_classifying = true;
    if (calledFromRe2SetMatch()) {
      g_in_re2_set.fetch_add(1, std::memory_order_relaxed);
    }
    t_classifying = false;
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}

void* countedAligned(size_t size, std::align_val_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed); // simdjson and RE2 use neither
  const size_t alignment = static_cast<size_t>(align);
  if (void* p = std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment)) {
    return p;
  }
  throw std::bad_alloc();
}
} // namespace

// The replaceable allocation functions, nothrow forms included: under ASan they would otherwise
// come from the sanitizer runtime and be freed here (simdjson allocates with new (std::nothrow)).
void* operator new(size_t size) {
  return counted(size);
}
void* operator new[](size_t size) {
  return counted(size);
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void* operator new(size_t size, std::align_val_t align) {
  return countedAligned(size, align);
}
void* operator new[](size_t size, std::align_val_t align) {
  return countedAligned(size, align);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace {

struct Case {
  const char* name;
  std::vector<std::string> packs;
  bool fast_path;
};

} // namespace

int main() {
  void* warm[1];
  backtrace(warm, 1); // loads the unwinder now, not inside a counted allocation
  std::vector<std::string> lines;
  scrub::corpus::CorpusGenerator generator(20261123);
  for (int i = 0; i < 5000; ++i) {
    lines.push_back(generator.next().json);
  }
  const std::vector<Case> cases = {
      {"openfn-retry-ids", {"openfn-retry-ids"}, true},
      {"openfn-retry-ids (On Demand walk only)", {"openfn-retry-ids"}, false},
      {"openfn-retry-ids + pii-detectors", {"openfn-retry-ids", "pii-detectors"}, true},
      {"kobo-redact + pii-detectors", {"kobo-redact", "pii-detectors"}, true},
  };
  int failures = 0;
  for (const Case& c : cases) {
    auto loaded = scrub::rules::loadRules(c.packs);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s: rules do not load: %s\n", c.name, loaded.error().message.c_str());
      return 2;
    }
    scrub::filters::LineFilter filter;
    filter.setFastPath(c.fast_path);
    scrub::filters::FilterCounters counters;
    std::string out;
    uint64_t forwarded = 0;
    uint64_t allocations = 0;
    uint64_t in_re2_set = 0;
    for (int pass = 0; pass < 3; ++pass) {
      g_classify = pass == 2;
      const uint64_t allocations_before = g_allocations.load();
      const uint64_t in_re2_set_before = g_in_re2_set.load();
      for (const std::string& line : lines) {
        forwarded += filter.filterCopy(line, *loaded->rules, out, counters) ==
                     scrub::filters::DropReason::None;
      }
      allocations = g_allocations.load() - allocations_before;
      in_re2_set = g_in_re2_set.load() - in_re2_set_before;
      g_classify = false;
    }
    const uint64_t elsewhere = allocations - in_re2_set;
    std::printf("%s, third pass over %zu lines: %llu allocations, %llu of them inside "
                "RE2::Set::Match (%llu forwarded in all passes)\n",
                c.name, lines.size(), static_cast<unsigned long long>(allocations),
                static_cast<unsigned long long>(in_re2_set),
                static_cast<unsigned long long>(forwarded));
    if (forwarded == 0 || elsewhere != 0) {
      std::printf("  FAILED: %llu allocations outside RE2::Set::Match\n",
                  static_cast<unsigned long long>(elsewhere));
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}
