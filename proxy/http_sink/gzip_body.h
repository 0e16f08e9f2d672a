#pragma once

// gzip (RFC 1952) of a request body, for `Content-Encoding: gzip`. Pure; zlib.

#include <string>
#include <string_view>

namespace scrub::proxy {

// Replaces `out` with the gzip of `in`. The output is reserved up front (deflateBound), so it
// never reallocates with compressed payload in it. False on a zlib failure (out is then wiped).
bool gzipBody(std::string_view in, std::string& out);

} // namespace scrub::proxy
