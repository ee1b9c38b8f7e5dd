// Tests of Router: exact and prefix paths, HEAD falling back to GET, and 405
// with the Allow value.
#include "http/router.h"

#include <doctest/doctest.h>

namespace longlink::http {
namespace {

enum { kWs, kSse, kSend, kPublish, kGroups, kGroupGet, kGroupDelete, kGroupPost, kWeb, kHealth };

Router MakeRouter() {
  Router r;
  r.Add(Method::kGet, "/ws", kWs);
  r.Add(Method::kGet, "/sse", kSse);
  r.Add(Method::kPost, "/send", kSend);
  r.Add(Method::kPost, "/api/publish", kPublish);
  r.Add(Method::kPost, "/api/groups", kGroups);
  r.Add(Method::kGet, "/api/groups/*", kGroupGet);
  r.Add(Method::kDelete, "/api/groups/*", kGroupDelete);
  r.Add(Method::kPost, "/api/groups/*", kGroupPost);
  r.Add(Method::kGet, "/healthz", kHealth);
  r.Add(Method::kGet, "/*", kWeb);
  return r;
}

TEST_CASE("router: matches exact paths") {
  Router r = MakeRouter();
  CHECK(r.Find(Method::kGet, "/ws").id == kWs);
  CHECK(r.Find(Method::kPost, "/send").id == kSend);
  CHECK(r.Find(Method::kPost, "/api/publish").id == kPublish);
  CHECK(r.Find(Method::kPost, "/api/groups").id == kGroups);
}

TEST_CASE("router: matches prefix routes and prefers the more specific route") {
  Router r = MakeRouter();
  CHECK(r.Find(Method::kGet, "/api/groups/team").id == kGroupGet);
  CHECK(r.Find(Method::kPost, "/api/groups/team/members").id == kGroupPost);
  CHECK(r.Find(Method::kDelete, "/api/groups/team").id == kGroupDelete);
  CHECK(r.Find(Method::kGet, "/api/groups/").id == kGroupGet);
  CHECK(r.Find(Method::kGet, "/index.html").id == kWeb);
  CHECK(r.Find(Method::kGet, "/").id == kWeb);
  // An exact route beats the catch-all prefix.
  CHECK(r.Find(Method::kGet, "/healthz").id == kHealth);
}

TEST_CASE("router: answers not found for unknown paths") {
  Router r;
  r.Add(Method::kGet, "/ws", kWs);
  r.Add(Method::kGet, "/api/groups/*", kGroupGet);
  CHECK(r.Find(Method::kGet, "/nope").id == Router::kNotFound);
  CHECK(r.Find(Method::kGet, "/ws/").id == Router::kNotFound);
  CHECK(r.Find(Method::kGet, "/api/groups").id == Router::kNotFound);
  CHECK(r.Find(Method::kGet, "").id == Router::kNotFound);
}

TEST_CASE("router: HEAD matches GET routes") {
  Router r = MakeRouter();
  CHECK(r.Find(Method::kHead, "/healthz").id == kHealth);
  CHECK(r.Find(Method::kHead, "/api/groups/x").id == kGroupGet);
  Router h;
  h.Add(Method::kGet, "/x", 1);
  h.Add(Method::kHead, "/x", 2);
  CHECK(h.Find(Method::kHead, "/x").id == 2);
  CHECK(h.Find(Method::kGet, "/x").id == 1);
}

TEST_CASE("router: answers 405 with the methods registered for the path") {
  Router r;
  r.Add(Method::kGet, "/ws", kWs);
  r.Add(Method::kPost, "/send", kSend);
  r.Add(Method::kPost, "/api/groups/*", kGroupPost);
  r.Add(Method::kDelete, "/api/groups/*", kGroupDelete);
  r.Add(Method::kGet, "/api/groups/*", kGroupGet);

  Router::Match m = r.Find(Method::kPost, "/ws");
  CHECK(m.id == Router::kMethodNotAllowed);
  CHECK(m.allow == "GET, HEAD");

  m = r.Find(Method::kGet, "/send");
  CHECK(m.id == Router::kMethodNotAllowed);
  CHECK(m.allow == "POST");

  m = r.Find(Method::kHead, "/send");
  CHECK(m.id == Router::kMethodNotAllowed);
  CHECK(m.allow == "POST");

  m = r.Find(Method::kPut, "/api/groups/team");
  CHECK(m.id == Router::kMethodNotAllowed);
  CHECK(m.allow == "GET, HEAD, POST, DELETE");

  m = r.Find(Method::kOther, "/ws");
  CHECK(m.id == Router::kMethodNotAllowed);
  CHECK(m.allow == "GET, HEAD");
}

TEST_CASE("router: the most specific path decides 405 even when a prefix has the method") {
  Router r = MakeRouter();
  // POST /api/publish is exact; GET on it is 405, not the "/*" web route.
  Router::Match m = r.Find(Method::kGet, "/api/publish");
  CHECK(m.id == Router::kMethodNotAllowed);
  CHECK(m.allow == "POST");
  m = r.Find(Method::kPost, "/index.html");
  CHECK(m.id == Router::kMethodNotAllowed);
  CHECK(m.allow == "GET, HEAD");
}

}  // namespace
}  // namespace longlink::http
