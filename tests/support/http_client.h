// Blocking HTTP/1.1 client helpers for integration tests: send raw bytes,
// read one complete response (status line, headers, body by Content-Length
// or chunked, or to EOF when neither is given), every read bounded by a
// timeout.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/tcp_conn.h"

namespace longlink::test {

struct HttpResponse {
  int status = 0;
  std::string version;  // "HTTP/1.1"
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string raw_head;  // status line and headers as received

  // Value of the first header named `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
  // Number of headers named `name`.
  int HeaderCount(std::string_view name) const;
};

class HttpClient {
 public:
  bool Connect(uint16_t port) { return conn_.Connect(port); }
  bool Send(std::string_view raw) { return conn_.SendAll(raw); }
  // Reads one response. `head_request`: the response to a HEAD has no body.
  // False on timeout, EOF before a whole response, or a malformed response
  // (reason in error()).
  bool ReadResponse(HttpResponse* out, bool head_request = false, Duration timeout = kIoTimeout);
  bool WaitClosed(Duration timeout = kIoTimeout) { return conn_.WaitClosed(timeout); }
  TcpConn& conn() { return conn_; }
  const std::string& error() const { return error_; }

 private:
  bool ReadChunked(std::string* body, Clock::time_point deadline);
  TcpConn conn_;
  std::string error_;
};

// Builds "<method> <target> HTTP/1.1\r\nHost: 127.0.0.1\r\n<extra>\r\n<body>";
// `extra` is zero or more header lines each ending in "\r\n".
std::string Request(std::string_view method, std::string_view target, std::string_view extra = {},
                    std::string_view body = {});

// One request on a fresh connection (with Connection: close). False if the
// connection or the response failed.
bool Fetch(uint16_t port, std::string_view method, std::string_view target, HttpResponse* out,
           std::string_view extra = {}, std::string_view body = {});

bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWith(std::string_view s, std::string_view prefix);

// Sums every sample of `name` (any labels) in a Prometheus text body.
double SumMetric(const std::string& body, const std::string& name);
// GET /metrics and SumMetric of "longlink_" + name; -1 if the fetch failed.
int64_t FetchMetricSum(uint16_t port, std::string_view name);

}  // namespace longlink::test
