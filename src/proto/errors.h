// The catalogue of client-visible error codes (PROTOCOL.md section 7), in the
// spirit of Dragonfly's src/facade/error.h: every `error` frame and every HTTP
// API error body names one of these, and nothing else. kOk is not sent; it
// marks success in the status types of this layer.
#pragma once

#include <cstdint>

namespace longlink::proto {

enum class ErrorCode : uint8_t {
  kOk = 0,
  kBadRequest,    // malformed frame, missing or mistyped member, bad id
  kUnauthorized,  // hello that names no valid user; anything before hello
  kForbidden,     // not a member, group not open
  kNotFound,      // no such group
  kTooLarge,      // a send body over --max-body
  kRateLimited,   // over --rate; the error carries retry_ms
  kOverloaded,    // over --max-conns
  kInternal,      // the server failed (storage error, ...)
};

// The wire name of `code` ("bad_request", ...); "ok" for kOk. Never null.
constexpr const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kOverloaded:
      return "overloaded";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

}  // namespace longlink::proto
