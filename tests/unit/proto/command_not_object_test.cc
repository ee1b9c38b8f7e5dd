// ParseStatus::not_object: set exactly when the input is not one JSON object
// (POST /send answers those 400; any other bad frame is an error frame).
#include <doctest/doctest.h>

#include "proto/command.h"
#include "command_test_util.h"

namespace longlink::proto {
namespace {

using testing::Harness;

TEST_CASE("command: input that is not one JSON object is marked not_object") {
  for (const char* text : {"", " ", "[1]", "\"x\"", "42", "null", "true", "not json", "{\"t\":",
                           "{\"t\":\"ping\"} x", "{\"t\":\"ping\"}}", "{\"t\":\"ping\",}",
                           "{\"t\":\"ping\",\"x\":[1,}"}) {
    INFO("input: " << text);
    Harness h;
    ParseStatus st = h.Parse(text);
    CHECK(st.code == ErrorCode::kBadRequest);
    CHECK(st.not_object);
    CHECK(h.ParseExact(text).not_object);
  }
}

TEST_CASE("command: a JSON object that is a bad frame is not marked not_object") {
  for (const char* text : {"{}", "{\"t\":\"nope\"}", "{\"t\":1}", "{\"t\":\"send\",\"id\":1}",
                           "{\"t\":\"ping\",\"id\":-1}"}) {
    INFO("input: " << text);
    Harness h;
    ParseStatus st = h.Parse(text);
    CHECK(st.code == ErrorCode::kBadRequest);
    CHECK(!st.not_object);
  }
  std::string deep(200, '[');
  deep = "{\"x\":" + deep + std::string(200, ']') + "}";
  Harness h;
  ParseStatus st = h.Parse(deep);
  CHECK(st.code == ErrorCode::kBadRequest);
  CHECK(!st.not_object);  // valid JSON, only too deep: an error frame
  CHECK(!h.cmd.has_id);  // none given
  // Section 1.1: the error carries the request's id, read before the depth.
  std::string body(200, '[');
  body += std::string(200, ']');
  ParseStatus deep_send =
      h.Parse("{\"t\":\"send\",\"id\":500,\"to\":\"u:x\",\"cmid\":\"c\",\"body\":" + body + "}");
  CHECK(deep_send.code == ErrorCode::kBadRequest);
  CHECK(h.cmd.has_id);
  CHECK(h.cmd.id == 500);
  h.Parse("{\"t\":\"send\",\"id\":-5,\"body\":" + body + "}");
  CHECK(!h.cmd.has_id);  // not a valid id: none
  CHECK(!h.Parse("{\"t\":\"ping\",\"id\":1}").not_object);
  CHECK(h.Parse("{\"t\":\"ping\",\"id\":1}").ok());
}

}  // namespace
}  // namespace longlink::proto
