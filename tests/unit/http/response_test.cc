// Tests of the response builders: exact bytes of responses and JSON errors,
// and RFC 8259 string escaping.
#include "http/response.h"

#include <string>

#include <doctest/doctest.h>

namespace longlink::http {
namespace {

TEST_CASE("response: writes status line, headers and body") {
  std::string out;
  AppendResponse(&out, 200, "text/plain", "ok\n", true);
  CHECK(out ==
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: 3\r\n"
        "\r\n"
        "ok\n");
}

TEST_CASE("response: adds Connection: close and extra headers after the standard ones") {
  std::string out = "prefix|";
  AppendResponse(&out, 405, "", "", false, "Allow: GET, HEAD\r\n");
  CHECK(out ==
        "prefix|HTTP/1.1 405 Method Not Allowed\r\n"
        "Content-Length: 0\r\n"
        "Connection: close\r\n"
        "Allow: GET, HEAD\r\n"
        "\r\n");
}

TEST_CASE("response: a HEAD response keeps Content-Length but has no body") {
  std::string out;
  AppendResponse(&out, 200, "text/html", "<html></html>", true, {}, /*head=*/true);
  CHECK(out ==
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/html\r\n"
        "Content-Length: 13\r\n"
        "\r\n");
}

TEST_CASE("response: 204 carries no Content-Length") {
  std::string out;
  AppendResponse(&out, 204, "", "", true);
  CHECK(out == "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST_CASE("response: 202 with an empty body says Content-Length: 0") {
  std::string out;
  AppendResponse(&out, 202, "", "", true);
  CHECK(out == "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("response: JSON error body bytes are exact") {
  std::string out;
  AppendJsonError(&out, 404, "not_found", "no such group", true);
  const std::string body = "{\"error\":\"not_found\",\"msg\":\"no such group\"}";
  CHECK(out ==
        "HTTP/1.1 404 Not Found\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: " +
            std::to_string(body.size()) +
            "\r\n"
            "\r\n" +
            body);
}

TEST_CASE("response: JSON error escapes the message and passes extra headers") {
  std::string out;
  AppendJsonError(&out, 426, "bad_request", "say \"13\"\n", false, "Sec-WebSocket-Version: 13\r\n");
  const std::string body = "{\"error\":\"bad_request\",\"msg\":\"say \\\"13\\\"\\n\"}";
  CHECK(out ==
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

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST_CASE("response: escapes JSON strings as RFC 8259 says") {
  CHECK(Json("") == "\"\"");
  CHECK(Json("plain text") == "\"plain text\"");
  CHECK(Json("q\"b\\s/") == "\"q\\\"b\\\\s/\"");
  CHECK(Json("\b\f\n\r\t") == "\"\\b\\f\\n\\r\\t\"");
  CHECK(Json(std::string_view("\x00\x01\x1f", 3)) == "\"\\u0000\\u0001\\u001f\"");
  CHECK(Json("\x7f") == "\"\x7f\"");
  CHECK(Json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST_CASE("response: replaces invalid UTF-8 in JSON strings with U+FFFD") {
  CHECK(Json("a\xff"
             "b") == "\"a\\ufffdb\"");
  CHECK(Json("\xc3") == "\"\\ufffd\"");                                   // truncated
  CHECK(Json("\xc0\xaf") == "\"\\ufffd\\ufffd\"");                        // overlong
  CHECK(Json("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");             // surrogate
  CHECK(Json("\xf4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // above U+10FFFF
}

TEST_CASE("response: knows the reason phrases the server uses") {
  for (int s : {101, 200, 202, 204, 400, 401, 403, 404, 405, 408, 409, 413, 426, 431, 500, 503}) {
    CAPTURE(s);
    CHECK(std::string(StatusText(s)) != "Unknown");
  }
  CHECK(std::string(StatusText(101)) == "Switching Protocols");
  CHECK(std::string(StatusText(431)) == "Request Header Fields Too Large");
  CHECK(std::string(StatusText(503)) == "Service Unavailable");
  CHECK(std::string(StatusText(299)) == "Unknown");
}

}  // namespace
}  // namespace longlink::http
