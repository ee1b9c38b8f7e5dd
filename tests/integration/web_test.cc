// The bundled web client (PROTOCOL.md sections 1 and 11): its files are
// served from the binary at "/", "/app.js", ... with their content types when
// the web client is on (--web, or --auth none), and 404 when it is off.
#include <string>

#include <doctest/doctest.h>

#include "support/http_client.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

HttpResponse Get(uint16_t port, const std::string& path, std::string_view extra = {}) {
  HttpResponse r;
  INFO("GET " << path);
  REQUIRE(Fetch(port, "GET", path, &r, extra));
  return r;
}

TEST_CASE("web: / serves index.html as HTML under --auth none") {
  Server srv({"--auth", "none", "--storage", "memory", "--threads", "1"});
  LL_START(srv);
  HttpResponse root = Get(srv.port(), "/");
  CHECK(root.status == 200);
  CHECK(root.Header("Content-Type") == "text/html; charset=utf-8");
  CHECK(root.body.find("<!doctype html>") == 0);
  CHECK(root.body.find("<script type=\"module\" src=\"/app.js\"></script>") != std::string::npos);
  CHECK(root.Header("Content-Length") == std::to_string(root.body.size()));
  CHECK(root.Header("Cache-Control") == "no-cache");
  CHECK(root.Header("X-Content-Type-Options") == "nosniff");
  CHECK(root.HasHeader("ETag"));
  HttpResponse index = Get(srv.port(), "/index.html");
  CHECK(index.status == 200);
  CHECK(index.body == root.body);
  CHECK(index.Header("ETag") == root.Header("ETag"));
  // A query string does not change the file.
  CHECK(Get(srv.port(), "/?user=alice").body == root.body);
}

TEST_CASE("web: the scripts and the stylesheet are served with their types") {
  Server srv({"--auth", "none", "--storage", "memory", "--threads", "1"});
  LL_START(srv);
  HttpResponse sdk = Get(srv.port(), "/longlink.js");
  CHECK(sdk.status == 200);
  CHECK(sdk.Header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(sdk.body.find("export class LonglinkClient") != std::string::npos);
  HttpResponse app = Get(srv.port(), "/app.js");
  CHECK(app.status == 200);
  CHECK(app.Header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(app.body.find("from './longlink.js'") != std::string::npos);
  HttpResponse css = Get(srv.port(), "/style.css");
  CHECK(css.status == 200);
  CHECK(css.Header("Content-Type") == "text/css; charset=utf-8");
  CHECK(css.body.find("#messages") != std::string::npos);
  CHECK(sdk.Header("ETag") != app.Header("ETag"));
}

TEST_CASE("web: unknown paths stay 404 and POST / is 405") {
  Server srv({"--auth", "none", "--storage", "memory", "--threads", "1"});
  LL_START(srv);
  CHECK(Get(srv.port(), "/nope.js").status == 404);
  CHECK(Get(srv.port(), "/web/app.js").status == 404);
  CHECK(Get(srv.port(), "/app.js/").status == 404);
  HttpResponse post;
  REQUIRE(Fetch(srv.port(), "POST", "/", &post, "Content-Length: 0\r\n"));
  CHECK(post.status == 405);
  CHECK(post.Header("Allow") == "GET, HEAD");
}

TEST_CASE("web: If-None-Match with the ETag answers 304 without a body") {
  Server srv({"--auth", "none", "--storage", "memory", "--threads", "1"});
  LL_START(srv);
  HttpResponse first = Get(srv.port(), "/longlink.js");
  REQUIRE(first.status == 200);
  std::string etag = first.Header("ETag");
  REQUIRE(etag.size() > 2);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send(Request("GET", "/longlink.js", "If-None-Match: " + etag + "\r\n")));
  HttpResponse again;
  // A 304 has no body whatever its Content-Length says (RFC 9110 15.4.5).
  REQUIRE_MESSAGE(c.ReadResponse(&again, /*head_request=*/true), c.error());
  CHECK(again.status == 304);
  CHECK(again.Header("ETag") == etag);
  // The connection stays usable: the next response starts right after.
  REQUIRE(c.Send(Request("GET", "/longlink.js", "If-None-Match: \"0000\"\r\n")));
  HttpResponse changed;
  REQUIRE_MESSAGE(c.ReadResponse(&changed), c.error());
  CHECK(changed.status == 200);
  CHECK(changed.body == first.body);
}

TEST_CASE("web: HEAD / gives the headers without the body") {
  Server srv({"--auth", "none", "--storage", "memory", "--threads", "1"});
  LL_START(srv);
  HttpResponse full = Get(srv.port(), "/");
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send(Request("HEAD", "/")));
  HttpResponse head;
  REQUIRE_MESSAGE(c.ReadResponse(&head, /*head_request=*/true), c.error());
  CHECK(head.status == 200);
  CHECK(head.Header("Content-Type") == "text/html; charset=utf-8");
  CHECK(head.Header("Content-Length") == std::to_string(full.body.size()));
  // Nothing follows the head: a pipelined request gets the next response.
  REQUIRE(c.Send(Request("GET", "/healthz")));
  HttpResponse health;
  REQUIRE_MESSAGE(c.ReadResponse(&health), c.error());
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");
}

TEST_CASE("web: pipelined file requests on one connection come back whole and in order") {
  Server srv({"--auth", "none", "--storage", "memory", "--threads", "1"});
  LL_START(srv);
  std::string sdk = Get(srv.port(), "/longlink.js").body;
  std::string css = Get(srv.port(), "/style.css").body;
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send(Request("GET", "/longlink.js") + Request("GET", "/style.css") +
                 Request("GET", "/longlink.js")));
  for (const std::string* want : {&sdk, &css, &sdk}) {
    HttpResponse r;
    REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
    CHECK(r.status == 200);
    CHECK(r.body == *want);
  }
}

TEST_CASE("web: the client is off under --auth jwt without --web") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  for (const char* path : {"/", "/index.html", "/longlink.js", "/app.js", "/style.css"}) {
    HttpResponse r = Get(srv.port(), path);
    CHECK(r.status == 404);
    CHECK(r.Header("Content-Type") == "application/json");
  }
  CHECK(Get(srv.port(), "/healthz").status == 200);
}

TEST_CASE("web: --web turns the client on under --auth jwt") {
  Secrets s;
  Server srv(JwtArgs(s, {"--web"}));
  LL_START(srv);
  HttpResponse root = Get(srv.port(), "/");
  CHECK(root.status == 200);
  CHECK(root.Header("Content-Type") == "text/html; charset=utf-8");
  CHECK(Get(srv.port(), "/longlink.js").status == 200);
}

}  // namespace
}  // namespace longlink::test
