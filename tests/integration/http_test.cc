// HTTP/1.1 on the plain endpoints: /healthz, /readyz, /metrics, errors,
// keep-alive, pipelining, timeouts. Every case starts its own server and
// speaks raw bytes to it.
#include <fstream>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "support/http_client.h"
#include "support/server.h"
#include "support/ws_client.h"

namespace longlink::test {
namespace {

// True if some sample line is `name` followed by labels or a space.
bool HasMetric(const std::string& body, const std::string& name) {
  for (size_t pos = body.find(name); pos != std::string::npos; pos = body.find(name, pos + 1)) {
    bool line_start = pos == 0 || body[pos - 1] == '\n';
    char next = pos + name.size() < body.size() ? body[pos + name.size()] : '\0';
    if (line_start && (next == '{' || next == ' '))
      return true;
  }
  return false;
}

bool IsJsonError(const std::string& body, const std::string& code) {
  return StartsWith(body, "{\"error\":\"" + code + "\",\"msg\":\"") && body.size() > 2 &&
         body.substr(body.size() - 2) == "\"}";
}

TEST_CASE("http: GET /healthz answers 200") {
  Server srv;
  LL_START(srv);
  HttpResponse r;
  REQUIRE(Fetch(srv.port(), "GET", "/healthz", &r));
  CHECK(r.status == 200);
  CHECK(r.version == "HTTP/1.1");
  CHECK(r.HasHeader("Content-Length"));
}

TEST_CASE("http: HEAD /healthz answers 200 without a body") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  // A HEAD then a GET on one connection: if HEAD wrongly carried a body, the
  // second response would not parse.
  REQUIRE(c.Send(Request("HEAD", "/healthz") + Request("GET", "/healthz")));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r, /*head_request=*/true), c.error());
  CHECK(r.status == 200);
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 200);
  CHECK(c.conn().buffer().empty());
}

TEST_CASE("http: GET /readyz answers 200 once the server listens") {
  Server srv;
  LL_START(srv);
  HttpResponse r;
  REQUIRE(Fetch(srv.port(), "GET", "/readyz", &r));
  CHECK(r.status == 200);
}

TEST_CASE("http: GET /metrics serves Prometheus text with longlink_ metrics") {
  Server srv;
  LL_START(srv);
  HttpResponse r;
  REQUIRE(Fetch(srv.port(), "GET", "/metrics", &r));
  CHECK(r.status == 200);
  CHECK(StartsWith(r.Header("Content-Type"), "text/plain; version=0.0.4"));
  CHECK(HasMetric(r.body, "longlink_connections"));
  CHECK(HasMetric(r.body, "longlink_ws_frames_in_total"));
  CHECK(HasMetric(r.body, "longlink_http_requests_total"));
  CHECK(r.body.find("{shard=\"0\"}") != std::string::npos);
  CHECK(r.body.find("{shard=\"1\"}") != std::string::npos);  // --threads 2
  // Every sample line (not a # comment) is a longlink_ metric.
  size_t pos = 0;
  while (pos < r.body.size()) {
    size_t eol = r.body.find('\n', pos);
    if (eol == std::string::npos)
      eol = r.body.size();
    std::string line = r.body.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#')
      continue;
    INFO("line: " << line);
    CHECK(StartsWith(line, "longlink_"));
  }
}

TEST_CASE("http: /metrics counts WebSocket frames received") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  for (int i = 0; i < 5; ++i) REQUIRE_MESSAGE(ws.Echo(op::kText, "m"), ws.error());
  // The echoes came back, so the server has counted the frames; allow a
  // little time for counters published by the shards.
  double frames = 0;
  auto deadline = Clock::now() + 3s;
  HttpResponse r;
  do {
    REQUIRE(Fetch(srv.port(), "GET", "/metrics", &r));
    frames = SumMetric(r.body, "longlink_ws_frames_in_total");
  } while (frames < 5 && Clock::now() < deadline);
  CHECK(frames >= 5);
  CHECK(SumMetric(r.body, "longlink_connections") >= 1);
  CHECK(SumMetric(r.body, "longlink_http_requests_total") >= 1);
}

TEST_CASE("http: unknown path answers 404 with a JSON not_found error") {
  Server srv;
  LL_START(srv);
  HttpResponse r;
  REQUIRE(Fetch(srv.port(), "GET", "/no/such/path", &r));
  CHECK(r.status == 404);
  CHECK(StartsWith(r.Header("Content-Type"), "application/json"));
  INFO("body: " << r.body);
  CHECK(IsJsonError(r.body, "not_found"));
}

TEST_CASE("http: POST /healthz answers 405 with Allow: GET, HEAD") {
  Server srv;
  LL_START(srv);
  HttpResponse r;
  REQUIRE(Fetch(srv.port(), "POST", "/healthz", &r, "Content-Length: 2\r\n", "{}"));
  CHECK(r.status == 405);
  CHECK(r.Header("Allow") == "GET, HEAD");
}

TEST_CASE("http: a garbage request line answers 400 and closes") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send("\x01\x02 NOT HTTP AT ALL\r\n\r\n"));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 400);
  CHECK(c.WaitClosed());
}

TEST_CASE("http: headers over --max-header answer 431") {
  Server srv;  // default --max-header 16KiB
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  std::string big = "X-Filler: " + std::string(17 * 1024, 'a') + "\r\n";
  REQUIRE(c.Send(Request("GET", "/healthz", big)));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 431);
  CHECK(c.WaitClosed());
}

TEST_CASE("http: headers just under --max-header are accepted") {
  Server srv(Server::EchoArgs({"--max-header", "4KiB"}));
  LL_START(srv);
  HttpResponse r;
  REQUIRE(Fetch(srv.port(), "GET", "/healthz", &r, "X-Filler: " + std::string(3000, 'a') + "\r\n"));
  CHECK(r.status == 200);
  REQUIRE(Fetch(srv.port(), "GET", "/healthz", &r, "X-Filler: " + std::string(5000, 'a') + "\r\n"));
  CHECK(r.status == 431);
}

TEST_CASE("http: a body over --max-message answers 413") {
  Server srv(Server::EchoArgs({"--max-message", "1KiB"}));
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  // Announce the whole body but send only the headers: the limit is known
  // from Content-Length, before any body byte arrives.
  REQUIRE(c.Send(Request("POST", "/healthz", "Content-Length: 1025\r\n")));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 413);
  CHECK(c.WaitClosed());
}

TEST_CASE("http: keep-alive serves several requests on one connection") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  const char* paths[] = {"/healthz", "/readyz", "/nope", "/metrics", "/healthz"};
  const int want[] = {200, 200, 404, 200, 200};
  for (int i = 0; i < 5; ++i) {
    REQUIRE(c.Send(Request("GET", paths[i])));
    HttpResponse r;
    REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
    CHECK(r.status == want[i]);
    CHECK(!EqualsIgnoreCase(r.Header("Connection"), "close"));
  }
}

TEST_CASE("http: pipelined requests in one write get responses in order") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send(Request("GET", "/healthz") + Request("GET", "/nope") + Request("GET", "/readyz")));
  const int want[] = {200, 404, 200};
  for (int w : want) {
    HttpResponse r;
    REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
    CHECK(r.status == w);
  }
  CHECK(c.conn().buffer().empty());
}

// The server's resident memory in KiB (VmRSS), 0 if unknown.
long RssKib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// A client that pipelines requests without reading the answers gets no
// more than a bounded amount of them queued: the rest wait unread (reading
// paused) and are answered, in order, as the client takes the earlier ones.
TEST_CASE("http: pipelined requests whose answers are not read hold bounded memory") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  HttpResponse one;
  REQUIRE(c.Send(Request("GET", "/metrics")));
  REQUIRE_MESSAGE(c.ReadResponse(&one), c.error());
  REQUIRE(one.status == 200);
  const size_t each = one.body.size();
  REQUIRE(each > 8000);
  constexpr int kN = 3000;  // ~55 MB of answers, ~120 KB of requests
  std::string batch;
  for (int i = 0; i < kN; i++) batch += Request("GET", "/metrics");
  const long before = RssKib(srv.pid());
  REQUIRE(before > 0);
  REQUIRE(c.Send(batch));
  std::this_thread::sleep_for(1500ms);
  const long after = RssKib(srv.pid());
  INFO("RSS " << before << " KiB -> " << after << " KiB; answers " << kN * each / 1024 << " KiB");
  CHECK(after - before < 16 * 1024);
  for (int i = 0; i < kN; i++) {
    HttpResponse r;
    REQUIRE_MESSAGE(c.ReadResponse(&r), "answer " << i << ": " << c.error());
    REQUIRE(r.status == 200);
    REQUIRE(r.body.size() > each / 2);
  }
  CHECK(c.conn().buffer().empty());
  REQUIRE(c.Send(Request("GET", "/healthz")));
  HttpResponse last;
  REQUIRE_MESSAGE(c.ReadResponse(&last), c.error());
  CHECK(last.status == 200);
}

// --keepalive-timeout closes an idle connection; one whose client is still
// taking a long run of answers, slowly, is not idle.
TEST_CASE("http: a client slowly taking pipelined answers outlives --keepalive-timeout") {
  Server srv({"--keepalive-timeout", "1"});
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  // ~55 MB of /metrics (far more than the socket buffers hold), taken over
  // ~3 s: the server's side waits on the client most of that time.
  constexpr int kN = 3000;
  std::string batch;
  for (int i = 0; i < kN; i++) batch += Request("GET", "/metrics");
  REQUIRE(c.Send(batch));
  const auto start = Clock::now();
  for (int i = 0; i < kN; i++) {
    HttpResponse r;
    REQUIRE_MESSAGE(c.ReadResponse(&r), "answer " << i << ": " << c.error());
    REQUIRE(r.status == 200);
    if (i % 100 == 99) std::this_thread::sleep_for(100ms);
  }
  CHECK(Clock::now() - start > 2500ms);
  // Then idle: closed after the timeout.
  CHECK(c.WaitClosed(5s));
}

TEST_CASE("http: a request split into single bytes is answered") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  c.conn().SetNoDelay();
  std::string req = Request("GET", "/healthz");
  for (char ch : req) REQUIRE(c.Send(std::string(1, ch)));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 200);
}

TEST_CASE("http: a request body is skipped before the next pipelined request") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  // The body looks like a request: if it were parsed as one, a third
  // response would appear or the second would be wrong.
  std::string body = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(c.Send(Request("POST", "/also-not-here",
                         "Content-Length: " + std::to_string(body.size()) + "\r\n", body) +
                 Request("GET", "/healthz", "Connection: close\r\n")));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 404);
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 200);
  CHECK(c.WaitClosed());
  CHECK(c.conn().buffer().empty());
}

TEST_CASE("http: Content-Length together with Transfer-Encoding answers 400") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  // A request-smuggling shape (RFC 9112 6.1): refuse it, then close.
  REQUIRE(c.Send(Request("POST", "/healthz", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                         "0\r\n\r\n")));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 400);
  CHECK(c.WaitClosed());
}

TEST_CASE("http: an HTTP/1.0 request is answered and the connection closed") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 200);
  CHECK(c.WaitClosed());
}

TEST_CASE("http: an unfinished request gets 408 after --request-timeout") {
  Server srv(Server::EchoArgs({"--request-timeout", "1"}));
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  auto start = Clock::now();
  REQUIRE(c.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r, false, 5s), c.error());
  auto elapsed = Clock::now() - start;
  CHECK(r.status == 408);
  CHECK(elapsed >= 900ms);
  CHECK(elapsed < 4s);
  CHECK(c.WaitClosed());
}

TEST_CASE("http: Connection: close is honoured") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send(Request("GET", "/healthz", "Connection: close\r\n")));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 200);
  CHECK(EqualsIgnoreCase(r.Header("Connection"), "close"));
  CHECK(c.WaitClosed());
  CHECK(c.conn().buffer().empty());
}

TEST_CASE("http: /echo without --echo answers 404") {
  Server srv({"--threads", "2", "--auth", "none", "--storage", "memory"});
  LL_START(srv);
  HttpResponse r;
  REQUIRE(Fetch(srv.port(), "GET", "/echo", &r, UpgradeHeaders(NewKey())));
  CHECK(r.status == 404);
  CHECK(IsJsonError(r.body, "not_found"));
}

}  // namespace
}  // namespace longlink::test
