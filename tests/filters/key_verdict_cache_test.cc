#include <catch2/catch.hpp>

#include <string>

#include "filters/key_verdict_cache.h"

using scrub::filters::KeyVerdict;
using scrub::filters::KeyVerdictCache;

TEST_CASE("key verdict cache remembers, forgets on a new rule set, stays bounded",
          "[filters][key-cache]") {
  KeyVerdictCache cache;
  cache.useRules(1);
  CHECK(cache.find("child/full_name") == nullptr);
  cache.insert("child/full_name", KeyVerdict{3, -1});
  cache.insert("", KeyVerdict{-1, 2});
  REQUIRE(cache.find("child/full_name") != nullptr);
  CHECK(cache.find("child/full_name")->key_detector == 3);
  CHECK(cache.find("")->data_detector == 2);
  CHECK(cache.find("child/full_nam") == nullptr);
  cache.useRules(1);
  CHECK(cache.find("child/full_name") != nullptr);
  cache.useRules(2);
  CHECK(cache.find("child/full_name") == nullptr);

  // Endless new keys (hostile input) never grow it past its bound: it starts over instead.
  cache.insert("first", KeyVerdict{1, 1});
  for (size_t i = 0; i < KeyVerdictCache::kMaxEntries + 10; ++i) {
    cache.insert("key-" + std::to_string(i), KeyVerdict{});
  }
  CHECK(cache.find("first") == nullptr);
  CHECK(cache.find("key-" + std::to_string(KeyVerdictCache::kMaxEntries + 9)) != nullptr);
  // Over-long keys are not cached.
  const std::string long_key(KeyVerdictCache::kMaxKeyBytes + 1, 'k');
  cache.insert(long_key, KeyVerdict{1, 1});
  CHECK(cache.find(long_key) == nullptr);
}
