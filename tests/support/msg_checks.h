// doctest helpers shared by the tests/integration/msg_*_test.cc cases: log in
// or fail, send and wait for a reply or fail, and check the exact shape of
// PROTOCOL.md's frames (ack, msg push, error, receipt). Header-only; include
// it from test files only.
#pragma once

#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "support/im_client.h"
#include "support/json.h"
#include "support/msg_env.h"

namespace longlink::test {

// Logs `c` in as user/device (under --auth none) or fails the test.
#define LL_LOGIN(c, port, user, device) \
  REQUIRE_MESSAGE((c).Login((port), (user), (device)), (c).error())

// The next frame of `c`, or the test fails.
inline Json MustNext(ImClient& c, Duration timeout = kIoTimeout) {
  Json j;
  bool ok = c.Next(&j, timeout);
  INFO("transcript:\n" << c.Transcript());
  REQUIRE_MESSAGE(ok, c.error());
  return j;
}

// The first frame of type `t` on `c`, or the test fails.
inline Json MustType(ImClient& c, std::string_view t, Duration timeout = kIoTimeout) {
  Json j;
  bool ok = c.WaitType(t, &j, timeout);
  INFO("waiting for t=" << t << "; transcript:\n" << c.Transcript());
  REQUIRE_MESSAGE(ok, c.error());
  return j;
}

// Sends `frame`, which carries "id":id, and returns the frame answering it.
inline Json MustRequest(ImClient& c, std::string_view frame, int64_t id,
                        Duration timeout = kIoTimeout) {
  Json j;
  bool ok = c.Request(frame, id, &j, timeout);
  INFO("request " << frame << "; transcript:\n" << c.Transcript());
  REQUIRE_MESSAGE(ok, c.error());
  return j;
}

// A send with a fresh id; returns the reply (an ack or an error).
inline Json SendMsg(ImClient& c, std::string_view to, std::string_view cmid,
                    std::string_view body_json = R"({"text":"hi"})") {
  int64_t id = c.NextId();
  return MustRequest(c, SendFrame(to, cmid, body_json, id), id);
}

// Checks `a` is the ack of PROTOCOL.md section 4 for a first send.
inline void CheckAck(const Json& a, int64_t id, std::string_view conv, int64_t seq,
                     std::string_view cmid) {
  INFO("ack: " << a);
  CHECK(a.Str("t") == "ack");
  CHECK(a.Int("id") == id);
  CHECK(a.Str("conv") == conv);
  CHECK(a["seq"].is_int());
  CHECK(a.Int("seq") == seq);
  CHECK(PlausibleTs(a["ts"]));
  CHECK(a.Str("cmid") == cmid);
  CHECK((!a.Has("dup") || (a["dup"].is_bool() && !a["dup"].as_bool())));
}

// Sends and requires an ack; returns its seq.
inline int64_t MustSend(ImClient& c, std::string_view to, std::string_view cmid,
                        std::string_view body_json = R"({"text":"hi"})") {
  Json a = SendMsg(c, to, cmid, body_json);
  INFO("send to " << to << " cmid " << cmid << " -> " << a);
  REQUIRE(a.Str("t") == "ack");
  REQUIRE(a["seq"].is_int());
  return a.Int("seq");
}

// Checks `e` is {"t":"error",["id":id,]"code":code,"msg":"..."}; id < 0:
// the error must have no id.
inline void CheckError(const Json& e, std::string_view code, int64_t id) {
  INFO("expected error " << code << " with id " << id << ", got: " << e);
  CHECK(e.Str("t") == "error");
  CHECK(e.Str("code") == code);
  CHECK(e["msg"].is_string());
  if (id < 0)
    CHECK(!e.Has("id"));
  else
    CHECK(e.Int("id") == id);
}

// Sends with a fresh id and checks the reply is error `code` with that id.
inline void ExpectSendError(ImClient& c, std::string_view to, std::string_view cmid,
                            std::string_view code, std::string_view body_json = "1") {
  int64_t id = c.NextId();
  Json e = MustRequest(c, SendFrame(to, cmid, body_json, id), id);
  INFO("send to " << to << " cmid " << cmid);
  CheckError(e, code, id);
}

// Checks a `msg` push (or, with `t` empty, a page item).
inline void CheckMsg(const Json& m, std::string_view conv, int64_t seq, std::string_view from,
                     std::string_view device, std::string_view cmid, std::string_view body_raw,
                     bool is_push = true) {
  INFO("message: " << m);
  if (is_push)
    CHECK(m.Str("t") == "msg");
  else
    CHECK(!m.Has("t"));
  CHECK(m.Str("conv") == conv);
  CHECK(m.Int("seq") == seq);
  CHECK(m.Str("from") == from);
  CHECK(m.Str("device") == device);
  CHECK(PlausibleTs(m["ts"]));
  CHECK(m.Str("cmid") == cmid);
  CHECK(m["body"].raw() == body_raw);
}

// Checks a receipt push.
inline void CheckReceipt(const Json& r, std::string_view conv, int64_t seq, std::string_view user,
                         std::string_view kind) {
  INFO("receipt: " << r);
  CHECK(r.Str("t") == "receipt");
  CHECK(r.Str("conv") == conv);
  CHECK(r.Int("seq") == seq);
  CHECK(r.Str("user") == user);
  CHECK(r.Str("kind") == kind);
  CHECK(!r.Has("id"));
}

// The ok reply to a frame with an id.
inline void CheckOk(const Json& j, int64_t id) {
  INFO("expected ok " << id << ", got " << j);
  CHECK(j.Str("t") == "ok");
  CHECK(j.Int("id") == id);
}

// Waits for a msg push of `conv` on `c`.
inline Json MustPush(ImClient& c, std::string_view conv, Duration timeout = kIoTimeout) {
  Json j;
  bool ok = c.WaitFor([&](const Json& f) { return f.Str("t") == "msg" && f.Str("conv") == conv; },
                      &j, timeout);
  INFO("waiting for a msg in " << conv << "; transcript:\n" << c.Transcript());
  REQUIRE_MESSAGE(ok, c.error());
  return j;
}

// Requires that nothing arrives on `c` within `d`.
#define LL_EXPECT_NO_FRAME(c, d)                                           \
  do {                                                                     \
    Json unexpected_;                                                      \
    bool quiet_ = (c).ExpectNoFrame((d), &unexpected_);                    \
    CHECK_MESSAGE(quiet_, #c " got an unexpected frame: " << (c).error()); \
  } while (0)

}  // namespace longlink::test
