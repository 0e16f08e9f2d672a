#include "rules/builtin_packs.h"

namespace scrub::rules {

const BuiltinPack* findBuiltinPack(std::string_view name) {
  for (const auto& pack : builtinPacks()) {
    if (pack.name == name) {
      return &pack;
    }
  }
  return nullptr;
}

} // namespace scrub::rules
