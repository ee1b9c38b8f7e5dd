// HS256 JWTs for the `--auth jwt` tests: SHA-256 (FIPS 180-4), HMAC (RFC
// 2104) and base64url (RFC 4648 section 5) written here, test-only, so the
// tests mint and check tokens independently of the server's OpenSSL use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace longlink::test {

// The 32-byte SHA-256 digest of `data`.
std::string Sha256(std::string_view data);
// HMAC-SHA256(key, data), 32 bytes.
std::string HmacSha256(std::string_view key, std::string_view data);
// base64url without padding, and back (nullopt-free: "" on bad input).
std::string Base64Url(std::string_view data);
std::string Base64UrlDecode(std::string_view text);
// Lowercase hex of raw bytes.
std::string Hex(std::string_view bytes);

// "<b64url(header)>.<b64url(payload)>.<b64url(HMAC-SHA256(secret, first two))>",
// with `header` and `payload` given as JSON text as is.
std::string MintJwt(std::string_view secret, std::string_view header_json,
                    std::string_view payload_json);
// A token for `sub` with `exp` = now + `ttl_s` (negative: already expired),
// header {"alg":"HS256","typ":"JWT"}.
std::string MintToken(std::string_view secret, std::string_view sub, int64_t ttl_s = 3600);

// Seconds since the Unix epoch, and milliseconds.
int64_t UnixSeconds();
int64_t UnixMillis();

}  // namespace longlink::test
