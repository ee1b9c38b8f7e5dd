// RequestParser: incremental HTTP/1.1 request parsing on top of llhttp, one per
// HTTP connection (a WebSocket connection frees it after the upgrade). It
// copies the request line, headers and body into one buffer it owns, so the
// caller may reuse its read buffer at once; Request's views point into that
// buffer and stay valid until Next(). Pipelined requests are parsed one at a
// time: Feed() stops after each complete request and says how many bytes it
// took, and the caller feeds the rest after handling it.
//
// Limits (answered, never asserted): a header section over max_header_bytes
// -> 431; a body over max_body -> 413; anything llhttp rejects -> 400.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace longlink::http {

enum class Method : uint8_t { kOther, kGet, kHead, kPost, kPut, kDelete, kOptions };

struct HeaderField {
  std::string_view name;
  std::string_view value;
};

struct Request {
  Method method = Method::kOther;
  std::string_view method_name;  // as sent, e.g. "PATCH"
  std::string_view target;       // as sent: path and query
  std::string_view path;         // target up to '?'
  std::string_view query;        // after '?', without it; empty if none
  uint8_t http_major = 1, http_minor = 1;
  bool keep_alive = true;        // llhttp_should_keep_alive
  bool upgrade = false;          // Connection: upgrade + Upgrade header present
  std::string_view body;
  HeaderField* headers = nullptr;
  size_t header_count = 0;

  // Case-insensitive lookup of the first header of that name; empty if none.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
  // The value of query parameter `key` (not percent-decoded); empty if absent.
  std::string_view QueryParam(std::string_view key) const;
};

// A query value decoded: %XX sequences become their byte and '+' a space
// (application/x-www-form-urlencoded). A '%' not followed by two hex digits
// is kept as it is.
std::string PercentDecode(std::string_view s);

struct ParseLimits {
  size_t max_header_bytes = 16 * 1024;  // request line + headers
  size_t max_body = 16 * 1024 * 1024;   // --max-message
  size_t max_headers = 64;              // header count; more -> 431
};

class RequestParser {
 public:
  enum class State { kNeedMore, kComplete, kError };

  explicit RequestParser(const ParseLimits& limits);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Feeds bytes. Sets *consumed to how many were taken (on kComplete the rest
  // belongs to the next request, or to the WebSocket after an upgrade).
  State Feed(const char* data, size_t len, size_t* consumed);
  // Valid after kComplete; after kError, the request line and headers (no
  // body) if the error came after the headers (413), else an empty Request.
  const Request& request() const;
  // After kError: the status to answer (400, 413 or 431) and a short reason.
  int error_status() const;
  const char* error_reason() const;
  // True once any byte of a request has arrived and the request is not
  // complete (for the slow-request timeout).
  bool in_progress() const;
  // True once per request whose headers asked "Expect: 100-continue" and
  // whose body has not all arrived: the caller answers "100 Continue", or
  // the final answer if the head decides it. request() then has the request
  // line and headers, without the body (valid until the next Feed).
  bool TakeContinue();
  // Resets for the next pipelined request.
  void Next();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace longlink::http
