// Tests of the WebSocket handshake: the RFC 6455 accept-key vector, the 101
// response bytes, and each refusal (400, 426) with its JSON body.
#include "http/upgrade.h"

#include <string>

#include <doctest/doctest.h>

#include "http/request_parser.h"

namespace longlink::http {
namespace {

// Parses `head` (a request line and header lines, without the blank line)
// and keeps the parser alive so the Request's views stay valid.
struct Parsed {
  explicit Parsed(const std::string& head) : parser(ParseLimits()), text(head + "\r\n") {
    size_t used = 0;
    REQUIRE(parser.Feed(text.data(), text.size(), &used) == RequestParser::State::kComplete);
  }
  const Request& req() const { return parser.request(); }
  RequestParser parser;
  std::string text;
};

const std::string kLine = "GET /ws HTTP/1.1\r\nHost: localhost:8080\r\n";
const std::string kUpgradeHeaders =
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n";
const std::string kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

const std::string k101 =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

TEST_CASE("upgrade: computes the RFC 6455 accept key") {
  CHECK(ComputeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==") == kAccept);
  CHECK(ComputeAcceptKey("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST_CASE("upgrade: accepts a valid handshake with 101 and the accept key") {
  Parsed p(kLine + kUpgradeHeaders);
  UpgradeResult r = AcceptUpgrade(p.req(), "longlink.v1");
  CHECK(r.status == 101);
  CHECK(r.response == k101 + "\r\n");
}

TEST_CASE("upgrade: matches Upgrade and Connection tokens case-insensitively in lists") {
  Parsed p(kLine +
           "upgrade: WebSocket\r\n"
           "connection: keep-alive, UPGRADE\r\n"
           "sec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==  \r\n"
           "sec-websocket-version: 13\r\n");
  UpgradeResult r = AcceptUpgrade(p.req(), {});
  CHECK(r.status == 101);
  CHECK(r.response == k101 + "\r\n");
}

TEST_CASE("upgrade: selects the subprotocol when it is offered") {
  Parsed p(kLine + kUpgradeHeaders + "Sec-WebSocket-Protocol: chat, longlink.v1 , other\r\n");
  UpgradeResult r = AcceptUpgrade(p.req(), "longlink.v1");
  CHECK(r.status == 101);
  CHECK(r.response == k101 + "Sec-WebSocket-Protocol: longlink.v1\r\n\r\n");
}

TEST_CASE("upgrade: finds the subprotocol in a second Sec-WebSocket-Protocol line") {
  Parsed p(kLine + kUpgradeHeaders + "Sec-WebSocket-Protocol: chat\r\n" +
           "Sec-WebSocket-Protocol: longlink.v1\r\n");
  UpgradeResult r = AcceptUpgrade(p.req(), "longlink.v1");
  CHECK(r.status == 101);
  CHECK(r.response == k101 + "Sec-WebSocket-Protocol: longlink.v1\r\n\r\n");
}

TEST_CASE("upgrade: proceeds without a subprotocol when none is offered") {
  Parsed p(kLine + kUpgradeHeaders);
  UpgradeResult r = AcceptUpgrade(p.req(), "longlink.v1");
  CHECK(r.status == 101);
  CHECK(r.response.find("Sec-WebSocket-Protocol") == std::string::npos);
}

TEST_CASE("upgrade: answers 400 when our subprotocol is not among those offered") {
  Parsed p(kLine + kUpgradeHeaders + "Sec-WebSocket-Protocol: chat, longlink.v2\r\n");
  UpgradeResult r = AcceptUpgrade(p.req(), "longlink.v1");
  CHECK(r.status == 400);
  CHECK(r.response.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
}

TEST_CASE("upgrade: ignores offered subprotocols when it has none to select") {
  Parsed p(kLine + kUpgradeHeaders + "Sec-WebSocket-Protocol: chat\r\n");
  UpgradeResult r = AcceptUpgrade(p.req(), {});
  CHECK(r.status == 101);
  CHECK(r.response == k101 + "\r\n");
}

TEST_CASE("upgrade: ignores Sec-WebSocket-Extensions") {
  Parsed p(kLine + kUpgradeHeaders +
           "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
  UpgradeResult r = AcceptUpgrade(p.req(), {});
  CHECK(r.status == 101);
  CHECK(r.response == k101 + "\r\n");
}

TEST_CASE("upgrade: answers 426 with the supported version to another version") {
  Parsed p(kLine +
           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n");
  UpgradeResult r = AcceptUpgrade(p.req(), {});
  CHECK(r.status == 426);
  const std::string body =
      "{\"error\":\"bad_request\",\"msg\":\"unsupported Sec-WebSocket-Version\"}";
  CHECK(r.response ==
        "HTTP/1.1 426 Upgrade Required\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: " +
            std::to_string(body.size()) +
            "\r\n"
            "Connection: close\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "\r\n" +
            body);
}

TEST_CASE("upgrade: answers 400 without Sec-WebSocket-Version") {
  Parsed p(kLine +
           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
  UpgradeResult r = AcceptUpgrade(p.req(), {});
  CHECK(r.status == 400);
}

TEST_CASE("upgrade: answers 400 with a JSON body when the key is missing") {
  Parsed p(kLine + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n");
  UpgradeResult r = AcceptUpgrade(p.req(), {});
  CHECK(r.status == 400);
  CHECK(!r.reason.empty());
  const std::string body = "{\"error\":\"bad_request\",\"msg\":\"missing Sec-WebSocket-Key\"}";
  CHECK(r.response ==
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: " +
            std::to_string(body.size()) +
            "\r\n"
            "Connection: close\r\n"
            "\r\n" +
            body);
}

TEST_CASE("upgrade: answers 400 to a key that is not base64 of 16 bytes") {
  for (const char* key : {"dGhlIHNhbXBsZSBub25jZQ=",    // 23 chars
                          "dGhlIHNhbXBsZSBub25jZQ===",  // 25 chars
                          "dGhlIHNhbXBsZSBub25jZ===",   // 15 bytes
                          "dGhlIHNhbXBsZSBub25jZSE=",   // 17 bytes
                          "dGhlIHNhbXBsZSBub25j!Q==",   // not base64
                          "c2hvcnQ="}) {                // "short"
    CAPTURE(key);
    Parsed p(kLine + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
             "\r\nSec-WebSocket-Version: 13\r\n");
    CHECK(AcceptUpgrade(p.req(), {}).status == 400);
  }
}

TEST_CASE("upgrade: answers 400 without Upgrade: websocket or Connection: upgrade") {
  const std::string key =
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  {
    Parsed p(kLine + "Connection: Upgrade\r\n" + key);
    CHECK(AcceptUpgrade(p.req(), {}).status == 400);
  }
  {
    Parsed p(kLine + "Upgrade: h2c\r\nConnection: Upgrade\r\n" + key);
    CHECK(AcceptUpgrade(p.req(), {}).status == 400);
  }
  {
    Parsed p(kLine + "Upgrade: websocket\r\n" + key);
    CHECK(AcceptUpgrade(p.req(), {}).status == 400);
  }
  {
    Parsed p(kLine + "Upgrade: websocket\r\nConnection: keep-alive, upgraded\r\n" + key);
    CHECK(AcceptUpgrade(p.req(), {}).status == 400);
  }
}

TEST_CASE("upgrade: answers 400 to a method other than GET or to HTTP/1.0") {
  {
    Parsed p("POST /ws HTTP/1.1\r\n" + kUpgradeHeaders);
    CHECK(AcceptUpgrade(p.req(), {}).status == 400);
  }
  {
    Parsed p("GET /ws HTTP/1.0\r\n" + kUpgradeHeaders);
    CHECK(AcceptUpgrade(p.req(), {}).status == 400);
  }
}

}  // namespace
}  // namespace longlink::http
