// The WebSocket opening handshake on /echo (RFC 6455 section 4.2): what is
// accepted, what is refused and with which status.
#include <string>

#include <doctest/doctest.h>

#include "support/http_client.h"
#include "support/server.h"
#include "support/sha1.h"
#include "support/ws_client.h"

namespace longlink::test {
namespace {

// Sends one request on a fresh connection; returns the response.
HttpResponse Upgrade(uint16_t port, std::string_view method, std::string_view headers) {
  HttpClient c;
  HttpResponse r;
  REQUIRE(c.Connect(port));
  REQUIRE(c.Send(Request(method, "/echo", headers)));
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  return r;
}

TEST_CASE("handshake: upgrade on /echo answers 101 with the right accept key") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  // The key from RFC 6455 section 1.3, so the expected value is a constant.
  REQUIRE(c.Send(Request("GET", "/echo", UpgradeHeaders("dGhlIHNhbXBsZSBub25jZQ=="))));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r, /*head_request=*/true), c.error());
  INFO("response head:\n" << r.raw_head);
  CHECK(r.status == 101);
  CHECK(r.Header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(EqualsIgnoreCase(r.Header("Upgrade"), "websocket"));
  CHECK(EqualsIgnoreCase(r.Header("Connection"), "upgrade"));
  CHECK(!r.HasHeader("Sec-WebSocket-Protocol"));
  CHECK(!r.HasHeader("Sec-WebSocket-Extensions"));
  CHECK(!r.HasHeader("Content-Length"));
  CHECK(c.conn().buffer().empty());  // nothing after the head
}

TEST_CASE("handshake: random keys get their accept key and a working echo") {
  Server srv;
  LL_START(srv);
  for (int i = 0; i < 20; ++i) {
    WsClient ws;  // Connect checks Sec-WebSocket-Accept against our own SHA-1
    REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
    REQUIRE_MESSAGE(ws.Echo(op::kText, "hi"), ws.error());
  }
}

TEST_CASE("handshake: header names and values are case-insensitive") {
  Server srv;
  LL_START(srv);
  std::string key = NewKey();
  HttpResponse r = Upgrade(srv.port(), "GET",
                           "upgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
                           "sec-websocket-key: " +
                               key + "\r\nsec-websocket-version: 13\r\n");
  CHECK(r.status == 101);
  CHECK(r.Header("Sec-WebSocket-Accept") == WsAcceptFor(key));
}

TEST_CASE("handshake: a missing Sec-WebSocket-Key answers 400") {
  Server srv;
  LL_START(srv);
  HttpResponse r = Upgrade(srv.port(), "GET",
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Version: 13\r\n");
  CHECK(r.status == 400);
}

TEST_CASE("handshake: a key that is not base64 of 16 bytes answers 400") {
  Server srv;
  LL_START(srv);
  // Too short, too long (base64 of 17 bytes), and not base64 at all.
  for (std::string key : {std::string("abc"), Base64(std::string(17, 'k')),
                          std::string("!!!!!!!!!!!!!!!!!!!!!!==")}) {
    INFO("key: " << key);
    HttpResponse r = Upgrade(srv.port(), "GET", UpgradeHeaders(key));
    CHECK(r.status == 400);
  }
}

TEST_CASE("handshake: Sec-WebSocket-Version 8 answers 426 naming version 13") {
  Server srv;
  LL_START(srv);
  HttpResponse r = Upgrade(srv.port(), "GET",
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: " +
                               NewKey() + "\r\nSec-WebSocket-Version: 8\r\n");
  CHECK(r.status == 426);
  CHECK(r.Header("Sec-WebSocket-Version") == "13");
}

TEST_CASE("handshake: POST /echo answers 405") {
  Server srv;
  LL_START(srv);
  HttpResponse r = Upgrade(srv.port(), "POST", UpgradeHeaders(NewKey()) + "Content-Length: 0\r\n");
  CHECK(r.status == 405);
}

TEST_CASE("handshake: a plain GET /echo without upgrade headers answers 4xx") {
  Server srv;
  LL_START(srv);
  HttpResponse r = Upgrade(srv.port(), "GET", "");
  CHECK(r.status >= 400);
  CHECK(r.status < 500);
  CHECK(r.status != 404);
}

TEST_CASE("handshake: an upgrade without the Connection upgrade token answers 4xx") {
  Server srv;
  LL_START(srv);
  HttpResponse r = Upgrade(srv.port(), "GET",
                           "Upgrade: websocket\r\nConnection: keep-alive\r\n"
                           "Sec-WebSocket-Key: " +
                               NewKey() + "\r\nSec-WebSocket-Version: 13\r\n");
  CHECK(r.status >= 400);
  CHECK(r.status < 500);
}

TEST_CASE("handshake: an HTTP/1.0 upgrade request is refused") {
  Server srv;
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send("GET /echo HTTP/1.0\r\nHost: 127.0.0.1\r\n" + UpgradeHeaders(NewKey()) + "\r\n"));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status >= 400);
  CHECK(r.status < 500);
}

TEST_CASE("handshake: an offered subprotocol on /echo is ignored") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port(), "/echo", "Sec-WebSocket-Protocol: chat, longlink.v1\r\n"),
                  ws.error());
  CHECK(!ws.response().HasHeader("Sec-WebSocket-Protocol"));
  CHECK_MESSAGE(ws.Echo(op::kText, "still echoes"), ws.error());
}

TEST_CASE("handshake: a frame sent in the same write as the upgrade is echoed") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port(), "/echo", "", EncodeFrame(op::kText, "early bird")),
                  ws.error());
  Message m;
  REQUIRE(ws.ReadMessage(&m) == IoStatus::kOk);
  CHECK(m.opcode == op::kText);
  CHECK(m.data == "early bird");
}

}  // namespace
}  // namespace longlink::test
