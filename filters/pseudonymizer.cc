#include "filters/pseudonymizer.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace scrub::filters {

void appendPseudonym(std::string& out, const rules::HashKey& key, std::string_view text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.secret.data(), static_cast<int>(key.secret.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  out.append("[HMAC:");
  out.append(key.id);
  out.push_back(':');
  for (unsigned int i = 0; i < 16 && i < length; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 15]);
  }
  out.push_back(']');
}

} // namespace scrub::filters
