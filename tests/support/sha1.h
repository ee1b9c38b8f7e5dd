// SHA-1 and base64, test-only, so the tests check Sec-WebSocket-Accept
// independently of the server's implementation (which uses OpenSSL). Not for
// anything but computing expected handshake values.
#pragma once

#include <string>
#include <string_view>

namespace longlink::test {

// The 20-byte SHA-1 digest of `data` (FIPS 180-4).
std::string Sha1(std::string_view data);

// Standard base64 with '=' padding (RFC 4648 section 4).
std::string Base64(std::string_view data);

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 4.2.2.
std::string WsAcceptFor(std::string_view key);

}  // namespace longlink::test
