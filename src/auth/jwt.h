// HS256 JSON Web Tokens (RFC 7519 over the JWS compact form, RFC 7515), the
// `token` of a `hello` under `--auth jwt` (PROTOCOL.md section 2) and the
// output of `longlink token` (section 10). Only what longlink needs: one
// algorithm (HMAC-SHA256), the claims `sub`, `exp` and `iat`, and 60 s of
// leeway on `exp`. Everything here is a pure function of its arguments: no
// state, no clock (the caller passes `now_s`), no exceptions. Tokens are peer
// input, so every failure is a JwtError, never an assert.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace longlink::auth {

// Longer tokens are refused as kMalformed before any decoding, which bounds
// the work one hello can cost. Ours are about 150 bytes.
inline constexpr size_t kMaxTokenBytes = 8192;
// A token is still accepted this many seconds after its `exp`.
inline constexpr int64_t kExpLeewaySeconds = 60;

struct Claims {
  std::string sub;  // Any JSON string; the caller checks the user-id grammar.
  int64_t exp = 0;  // Unix seconds.
  int64_t iat = 0;  // Unix seconds; 0 when absent or not an integer (never checked).
};

enum class JwtError {
  kOk,
  kMalformed,     // Not three base64url segments of JSON objects, too long, duplicate keys.
  kBadAlg,        // Header `alg` missing or other than "HS256", or a `crit` header.
  kBadSignature,  // HMAC-SHA256 mismatch (also: empty secret, which never verifies).
  kExpired,       // now_s > exp + kExpLeewaySeconds.
  kNoExp,         // `exp` missing or not an integer that fits int64 (1.5, 1e9, "1").
  kBadSub,        // `sub` missing or not a string.
};

// "ok", "malformed", "bad_alg", "bad_signature", "expired", "no_exp", "bad_sub".
std::string_view JwtErrorName(JwtError err);

// Checks `token` in this order and returns the first failure:
//   1. at most kMaxTokenBytes; exactly three segments, each strict base64url
//      (alphabet A-Z a-z 0-9 - _, no '=' padding, no whitespace, unused
//      trailing bits zero)                                  -> kMalformed
//   2. header is a JSON object without duplicate keys       -> kMalformed
//      whose `alg` is exactly "HS256" and has no `crit`     -> kBadAlg
//      (`typ` and other members are ignored)
//   3. HMAC-SHA256(secret, "header.payload") equals the signature, compared
//      with CRYPTO_memcmp                                   -> kBadSignature
//   4. only now is the payload parsed: a JSON object without duplicate keys
//                                                           -> kMalformed
//      `sub` is a string                                    -> kBadSub
//      `exp` is an integer                                  -> kNoExp
//      now_s <= exp + kExpLeewaySeconds                     -> kExpired
// JSON is RFC 8259 and must be valid UTF-8; string escapes (including
// surrogate pairs) are decoded before keys are compared, so "s\u0075b" is
// `sub` and counts as a duplicate of it. `nbf`, `iss` and `aud` are not checked.
// `*out` is written only on kOk; `out` may be null.
JwtError VerifyHs256(std::string_view token, std::string_view secret, int64_t now_s, Claims* out);

// Returns `header.payload.signature` with header {"alg":"HS256","typ":"JWT"}
// and payload {"sub":"<sub, JSON-escaped>","iat":<iat>,"exp":<exp>}.
// REQUIRES: `sub` is valid UTF-8 (else VerifyHs256 will refuse the token) and
// `secret` is not empty. Returns "" only if OpenSSL's HMAC fails.
std::string SignHs256(std::string_view sub, int64_t exp, int64_t iat, std::string_view secret);

// Signs arbitrary header and payload bytes as they are, whatever the header's
// `alg` says. SignHs256 is built on it; tests use it to make hostile tokens
// that carry a valid signature. Returns "" only if OpenSSL's HMAC fails.
std::string SignRawHs256(std::string_view header_json, std::string_view payload_json,
                         std::string_view secret);

// RFC 4648 section 5 (URL and filename safe alphabet) without '=' padding.
std::string Base64UrlEncode(std::string_view data);
// Strict inverse of Base64UrlEncode: false (and `*out` unspecified) on any
// byte outside the alphabet, on '=', on a length of 4n+1, or on non-zero
// unused bits in the last character, so every byte string has exactly one
// accepted encoding.
bool Base64UrlDecode(std::string_view text, std::string* out);

}  // namespace longlink::auth
