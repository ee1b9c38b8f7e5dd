// Tests of RequestParser: literal requests fed whole, at every split point
// and pipelined; the 400/413/431 limits; and the Request accessors.
#include "http/request_parser.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace longlink::http {
namespace {

using State = RequestParser::State;

// A deep copy of a Request, so results outlive the parser's buffer.
struct Copy {
  Method method = Method::kOther;
  std::string method_name, target, path, query, body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = false, upgrade = false;
  int major = 0, minor = 0;
};

Copy CopyOf(const Request& r) {
  Copy c;
  c.method = r.method;
  c.method_name = std::string(r.method_name);
  c.target = std::string(r.target);
  c.path = std::string(r.path);
  c.query = std::string(r.query);
  c.body = std::string(r.body);
  for (size_t i = 0; i < r.header_count; ++i) {
    c.headers.emplace_back(std::string(r.headers[i].name), std::string(r.headers[i].value));
  }
  c.keep_alive = r.keep_alive;
  c.upgrade = r.upgrade;
  c.major = r.http_major;
  c.minor = r.http_minor;
  return c;
}

// Feeds `pieces` in order as a reader would: on kComplete it records the
// request, calls Next() and feeds the rest of the same piece. Returns the
// final state; `total` counts the bytes consumed.
State FeedPieces(RequestParser* p, const std::vector<std::string>& pieces, std::vector<Copy>* out,
                 size_t* total = nullptr) {
  State st = State::kNeedMore;
  size_t sum = 0;
  for (const std::string& piece : pieces) {
    size_t off = 0;
    while (off < piece.size()) {
      size_t used = 0;
      st = p->Feed(piece.data() + off, piece.size() - off, &used);
      off += used;
      sum += used;
      if (st == State::kError)
        break;
      if (st == State::kComplete) {
        out->push_back(CopyOf(p->request()));
        if (p->request().upgrade)
          break;
        p->Next();
        st = State::kNeedMore;
      }
    }
    if (st == State::kError || (st == State::kComplete))
      break;
  }
  if (total)
    *total = sum;
  return st;
}

const std::string kPost =
    "POST /api/publish?x=1&y=two HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "Content-Type: application/json\r\n"
    "X-Long-Header-Name: some value, with, commas\r\n"
    "Content-Length: 27\r\n"
    "\r\n"
    "{\"to\":\"u:bob\",\"body\":\"hi\"}\n";

void CheckPost(const Copy& c) {
  CHECK(c.method == Method::kPost);
  CHECK(c.method_name == "POST");
  CHECK(c.target == "/api/publish?x=1&y=two");
  CHECK(c.path == "/api/publish");
  CHECK(c.query == "x=1&y=two");
  CHECK(c.major == 1);
  CHECK(c.minor == 1);
  CHECK(c.keep_alive);
  CHECK(!c.upgrade);
  REQUIRE(c.headers.size() == 4);
  CHECK(c.headers[0].first == "Host");
  CHECK(c.headers[0].second == "example.com");
  CHECK(c.headers[2].first == "X-Long-Header-Name");
  CHECK(c.headers[2].second == "some value, with, commas");
  CHECK(c.headers[3].second == "27");
  CHECK(c.body == "{\"to\":\"u:bob\",\"body\":\"hi\"}\n");
}

TEST_CASE("request_parser: parses a request with headers and a body fed whole") {
  RequestParser p{ParseLimits()};
  size_t used = 0;
  REQUIRE(p.Feed(kPost.data(), kPost.size(), &used) == State::kComplete);
  CHECK(used == kPost.size());
  CheckPost(CopyOf(p.request()));
  CHECK(!p.in_progress());
}

TEST_CASE("request_parser: parses the same request split at every point") {
  for (size_t i = 0; i <= kPost.size(); ++i) {
    RequestParser p{ParseLimits()};
    std::vector<Copy> got;
    size_t total = 0;
    State st = FeedPieces(&p, {kPost.substr(0, i), kPost.substr(i)}, &got, &total);
    CAPTURE(i);
    CHECK(st == State::kNeedMore);  // FeedPieces calls Next() after each request
    REQUIRE(got.size() == 1);
    CHECK(total == kPost.size());
    CheckPost(got[0]);
  }
}

TEST_CASE("request_parser: parses the request fed one byte at a time") {
  RequestParser p{ParseLimits()};
  std::vector<std::string> bytes;
  for (char c : kPost) bytes.emplace_back(1, c);
  std::vector<Copy> got;
  FeedPieces(&p, bytes, &got);
  REQUIRE(got.size() == 1);
  CheckPost(got[0]);
}

TEST_CASE("request_parser: splits pipelined requests and says how many bytes each took") {
  const std::string a = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string b = "POST /send?session=s1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  const std::string c = "DELETE /api/groups/team HTTP/1.1\r\nConnection: close\r\n\r\n";
  const std::string all = a + b + c;
  RequestParser p{ParseLimits()};
  size_t off = 0, used = 0;

  REQUIRE(p.Feed(all.data(), all.size(), &used) == State::kComplete);
  CHECK(used == a.size());
  CHECK(p.request().path == "/healthz");
  CHECK(p.request().method == Method::kGet);
  CHECK(p.request().keep_alive);
  off += used;
  p.Next();

  REQUIRE(p.Feed(all.data() + off, all.size() - off, &used) == State::kComplete);
  CHECK(used == b.size());
  CHECK(p.request().path == "/send");
  CHECK(p.request().QueryParam("session") == "s1");
  CHECK(p.request().body == "hello");
  off += used;
  p.Next();

  REQUIRE(p.Feed(all.data() + off, all.size() - off, &used) == State::kComplete);
  CHECK(used == c.size());
  CHECK(p.request().method == Method::kDelete);
  CHECK(p.request().path == "/api/groups/team");
  CHECK(!p.request().keep_alive);
  CHECK(off + used == all.size());
}

TEST_CASE("request_parser: pipelined requests give the same result at every split point") {
  const std::string all =
      "GET /a HTTP/1.1\r\n\r\n"
      "PUT /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
      "OPTIONS /c HTTP/1.1\r\nX: y\r\n\r\n";
  for (size_t i = 0; i <= all.size(); ++i) {
    CAPTURE(i);
    RequestParser p{ParseLimits()};
    std::vector<Copy> got;
    size_t total = 0;
    FeedPieces(&p, {all.substr(0, i), all.substr(i)}, &got, &total);
    REQUIRE(got.size() == 3);
    CHECK(total == all.size());
    CHECK(got[0].path == "/a");
    CHECK(got[1].method == Method::kPut);
    CHECK(got[1].body == "xyz");
    CHECK(got[2].method == Method::kOptions);
    CHECK(got[2].headers.size() == 1);
  }
}

TEST_CASE("request_parser: joins a chunked body and ignores trailers") {
  const std::string req =
      "POST /send HTTP/1.1\r\n"
      "Transfer-Encoding: chunked\r\n"
      "\r\n"
      "5\r\nhello\r\n"
      "7;ext=1\r\n, world\r\n"
      "0\r\n"
      "X-Trailer: t\r\n"
      "\r\n"
      "GET /next HTTP/1.1\r\n\r\n";
  for (size_t i = 0; i <= req.size(); ++i) {
    CAPTURE(i);
    RequestParser p{ParseLimits()};
    std::vector<Copy> got;
    FeedPieces(&p, {req.substr(0, i), req.substr(i)}, &got);
    REQUIRE(got.size() == 2);
    CHECK(got[0].body == "hello, world");
    REQUIRE(got[0].headers.size() == 1);
    CHECK(got[0].headers[0].first == "Transfer-Encoding");
    CHECK(got[1].path == "/next");
  }
}

const std::string kUpgrade =
    "GET /ws HTTP/1.1\r\n"
    "Host: localhost\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

TEST_CASE("request_parser: stops an upgrade at the end of the headers") {
  const std::string frame = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";  // masked "Hello"
  const std::string all = kUpgrade + frame;
  for (size_t i = 0; i <= all.size(); ++i) {
    CAPTURE(i);
    RequestParser p{ParseLimits()};
    std::vector<Copy> got;
    size_t total = 0;
    State st = FeedPieces(&p, {all.substr(0, i), all.substr(i)}, &got, &total);
    REQUIRE(st == State::kComplete);
    REQUIRE(got.size() == 1);
    CHECK(got[0].upgrade);
    CHECK(got[0].path == "/ws");
    CHECK(total == kUpgrade.size());
  }
}

TEST_CASE("request_parser: an Upgrade header without Connection: upgrade is a plain request") {
  const std::string req = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  RequestParser p{ParseLimits()};
  std::vector<Copy> got;
  FeedPieces(&p, {req}, &got);
  REQUIRE(got.size() == 2);
  CHECK(!got[0].upgrade);
}

TEST_CASE("request_parser: answers 400 to garbage") {
  for (std::string bad :
       {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  // a TLS hello
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "GET / HTTP/1.1\r\nBad\x01: x\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n", "HELLO / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"}) {
    CAPTURE(bad);
    RequestParser p{ParseLimits()};
    size_t used = 0;
    CHECK(p.Feed(bad.data(), bad.size(), &used) == State::kError);
    CHECK(p.error_status() == 400);
    CHECK(std::string(p.error_reason()).size() > 0);
    // It stays failed.
    CHECK(p.Feed("GET / HTTP/1.1\r\n\r\n", 18, &used) == State::kError);
  }
}

TEST_CASE("request_parser: answers 431 when headers exceed the limit") {
  ParseLimits limits;
  limits.max_header_bytes = 256;
  std::string req = "GET / HTTP/1.1\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n";
  RequestParser p{limits};
  size_t used = 0;
  CHECK(p.Feed(req.data(), req.size(), &used) == State::kError);
  CHECK(p.error_status() == 431);

  // Split into small reads, and padding whitespace counts too.
  RequestParser q{limits};
  std::string pad = "GET / HTTP/1.1\r\nX:" + std::string(1000, ' ');
  State st = State::kNeedMore;
  for (size_t off = 0; off < pad.size() && st == State::kNeedMore; off += 7) {
    st = q.Feed(pad.data() + off, std::min<size_t>(7, pad.size() - off), &used);
  }
  CHECK(st == State::kError);
  CHECK(q.error_status() == 431);
}

TEST_CASE("request_parser: accepts a header section of exactly the limit") {
  std::string req = "GET / HTTP/1.1\r\nX: abc\r\n\r\n";
  ParseLimits limits;
  limits.max_header_bytes = req.size();
  RequestParser p{limits};
  size_t used = 0;
  CHECK(p.Feed(req.data(), req.size(), &used) == State::kComplete);
  limits.max_header_bytes = req.size() - 1;
  RequestParser q{limits};
  CHECK(q.Feed(req.data(), req.size(), &used) == State::kError);
  CHECK(q.error_status() == 431);
}

TEST_CASE("request_parser: the header limit applies to each pipelined request on its own") {
  std::string one = "GET /x HTTP/1.1\r\nX: " + std::string(40, 'v') + "\r\n\r\n";
  ParseLimits limits;
  limits.max_header_bytes = one.size();
  RequestParser p{limits};
  std::vector<Copy> got;
  State st = FeedPieces(&p, {one + one + one}, &got);
  CHECK(st == State::kNeedMore);
  CHECK(got.size() == 3);
}

TEST_CASE("request_parser: answers 431 to too many header fields") {
  ParseLimits limits;
  limits.max_headers = 4;
  std::string ok = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
  std::string bad = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n";
  size_t used = 0;
  RequestParser p{limits};
  CHECK(p.Feed(ok.data(), ok.size(), &used) == State::kComplete);
  CHECK(p.request().header_count == 4);
  RequestParser q{limits};
  CHECK(q.Feed(bad.data(), bad.size(), &used) == State::kError);
  CHECK(q.error_status() == 431);
}

TEST_CASE("request_parser: answers 413 to a Content-Length over the limit before the body") {
  ParseLimits limits;
  limits.max_body = 100;
  std::string head = "POST /api/publish HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
  RequestParser p{limits};
  size_t used = 0;
  // No body byte has arrived yet.
  CHECK(p.Feed(head.data(), head.size(), &used) == State::kError);
  CHECK(p.error_status() == 413);

  std::string fits = "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b');
  RequestParser q{limits};
  CHECK(q.Feed(fits.data(), fits.size(), &used) == State::kComplete);
  CHECK(q.request().body.size() == 100);
}

TEST_CASE("request_parser: answers 413 when a chunked body grows past the limit") {
  ParseLimits limits;
  limits.max_body = 10;
  std::string req =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n";
  RequestParser p{limits};
  size_t used = 0;
  CHECK(p.Feed(req.data(), req.size(), &used) == State::kError);
  CHECK(p.error_status() == 413);
}

TEST_CASE("request_parser: keep_alive follows the version and the Connection header") {
  struct Case {
    const char* req;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.req);
    RequestParser p{ParseLimits()};
    size_t used = 0;
    std::string s = c.req;
    REQUIRE(p.Feed(s.data(), s.size(), &used) == State::kComplete);
    CHECK(p.request().keep_alive == c.keep_alive);
  }
  RequestParser p{ParseLimits()};
  size_t used = 0;
  std::string s = "GET / HTTP/1.0\r\n\r\n";
  REQUIRE(p.Feed(s.data(), s.size(), &used) == State::kComplete);
  CHECK(p.request().http_major == 1);
  CHECK(p.request().http_minor == 0);
}

TEST_CASE("request_parser: maps methods and keeps the name as sent") {
  struct Case {
    const char* name;
    Method method;
  } cases[] = {{"GET", Method::kGet},    {"HEAD", Method::kHead},     {"POST", Method::kPost},
               {"PUT", Method::kPut},    {"DELETE", Method::kDelete}, {"OPTIONS", Method::kOptions},
               {"PATCH", Method::kOther}};
  for (const Case& c : cases) {
    RequestParser p{ParseLimits()};
    std::string s = std::string(c.name) + " /x HTTP/1.1\r\n\r\n";
    size_t used = 0;
    REQUIRE(p.Feed(s.data(), s.size(), &used) == State::kComplete);
    CHECK(p.request().method == c.method);
    CHECK(p.request().method_name == c.name);
  }
}

TEST_CASE("request_parser: finds query parameters without decoding them") {
  RequestParser p{ParseLimits()};
  std::string s =
      "GET /api/history?conv=d:alice:bob&after=0&limit=100&flag&e=&x%20y=a%2Cb HTTP/1.1\r\n\r\n";
  size_t used = 0;
  REQUIRE(p.Feed(s.data(), s.size(), &used) == State::kComplete);
  const Request& r = p.request();
  CHECK(r.path == "/api/history");
  CHECK(r.QueryParam("conv") == "d:alice:bob");
  CHECK(r.QueryParam("after") == "0");
  CHECK(r.QueryParam("limit") == "100");
  CHECK(r.QueryParam("lim").empty());
  CHECK(r.QueryParam("flag").empty());
  CHECK(r.QueryParam("e").empty());
  CHECK(r.QueryParam("x%20y") == "a%2Cb");
  CHECK(r.QueryParam("missing").empty());
}

TEST_CASE("request_parser: a target without '?' has an empty query") {
  RequestParser p{ParseLimits()};
  std::string s = "GET /sse HTTP/1.1\r\n\r\n";
  size_t used = 0;
  REQUIRE(p.Feed(s.data(), s.size(), &used) == State::kComplete);
  CHECK(p.request().path == "/sse");
  CHECK(p.request().query.empty());
  CHECK(p.request().QueryParam("token").empty());
  CHECK(p.request().body.empty());
}

TEST_CASE("request_parser: looks headers up case-insensitively, first one wins") {
  RequestParser p{ParseLimits()};
  std::string s =
      "GET / HTTP/1.1\r\nauthorization: Bearer k1\r\nX-Empty:\r\nX-Dup: a\r\nx-dup: b\r\n\r\n";
  size_t used = 0;
  REQUIRE(p.Feed(s.data(), s.size(), &used) == State::kComplete);
  const Request& r = p.request();
  CHECK(r.Header("Authorization") == "Bearer k1");
  CHECK(r.Header("AUTHORIZATION") == "Bearer k1");
  CHECK(r.Header("X-DUP") == "a");
  CHECK(r.HasHeader("x-empty"));
  CHECK(r.Header("x-empty").empty());
  CHECK(!r.HasHeader("X-Missing"));
  CHECK(r.Header("X-Missing").empty());
}

TEST_CASE("request_parser: trims whitespace around header values") {
  RequestParser p{ParseLimits()};
  std::string s = "GET / HTTP/1.1\r\nX-A:   padded \t \r\nX-B:\t\tb\r\n\r\n";
  size_t used = 0;
  REQUIRE(p.Feed(s.data(), s.size(), &used) == State::kComplete);
  CHECK(p.request().Header("X-A") == "padded");
  CHECK(p.request().Header("X-B") == "b");
}

TEST_CASE("request_parser: in_progress covers a started but unfinished request") {
  RequestParser p{ParseLimits()};
  CHECK(!p.in_progress());
  size_t used = 0;
  CHECK(p.Feed("GET / HT", 8, &used) == State::kNeedMore);
  CHECK(used == 8);
  CHECK(p.in_progress());
  CHECK(p.Feed("TP/1.1\r\n\r\n", 10, &used) == State::kComplete);
  CHECK(!p.in_progress());
  p.Next();
  CHECK(!p.in_progress());
}

TEST_CASE("request_parser: request views stay valid while the buffer grows") {
  // The body is large enough to reallocate the buffer after the headers.
  std::string body(100000, 'z');
  std::string s = "PUT /big HTTP/1.1\r\nX-A: first\r\nContent-Length: 100000\r\n\r\n" + body;
  RequestParser p{ParseLimits()};
  std::vector<Copy> got;
  std::vector<std::string> pieces;
  for (size_t off = 0; off < s.size(); off += 4096) pieces.push_back(s.substr(off, 4096));
  FeedPieces(&p, pieces, &got);
  REQUIRE(got.size() == 1);
  CHECK(got[0].headers[0].second == "first");
  CHECK(got[0].body == body);
}

}  // namespace
}  // namespace longlink::http
