// Self-checks of the messaging test helpers (JSON reader, SHA-256, HMAC,
// base64url) against known answers, so a helper bug cannot make a protocol
// check pass or fail for the wrong reason.
#include <string>

#include <doctest/doctest.h>

#include "support/json.h"
#include "support/jwt.h"

namespace longlink::test {
namespace {

TEST_CASE("msg support: SHA-256 and HMAC-SHA256 match FIPS 180 and RFC 4231 vectors") {
  CHECK(Hex(Sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Hex(Sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Hex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(Hex(Sha256(std::string(1000000, 'a'))) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // RFC 4231 test cases 1, 2 and 6 (a key longer than the block).
  CHECK(Hex(HmacSha256(std::string(20, '\x0b'), "Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(Hex(HmacSha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(Hex(HmacSha256(std::string(131, '\xaa'),
                       "Test Using Larger Than Block-Size Key - Hash Key First")) ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("msg support: base64url round-trips and mints the jwt.io sample token") {
  CHECK(Base64Url("") == "");
  CHECK(Base64Url("f") == "Zg");
  CHECK(Base64Url("fo") == "Zm8");
  CHECK(Base64Url("foo") == "Zm9v");
  CHECK(Base64Url("\xfb\xff") == "-_8");
  CHECK(Base64UrlDecode("-_8") == "\xfb\xff");
  CHECK(Base64UrlDecode(Base64Url("hello, world")) == "hello, world");
  // RFC 7515 appendix A.1: the HS256 example (its exact header and payload bytes).
  std::string key = Base64UrlDecode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  std::string header = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
  std::string payload =
      "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
  CHECK(MintJwt(key, header, payload) ==
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn"
        "VlfQ."
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

TEST_CASE("msg support: the JSON reader keeps raw text and rejects malformed input") {
  auto j = Json::Parse(
      R"( {"t":"msg","seq":17,"body": { "a" : [1, 2.5, "\u00e9\ud83d\ude00"] } ,"n":null} )");
  REQUIRE(j);
  CHECK(j->Str("t") == "msg");
  CHECK(j->Int("seq") == 17);
  CHECK((*j)["body"].raw() == R"({ "a" : [1, 2.5, "\u00e9\ud83d\ude00"] })");
  CHECK((*j)["body"]["a"][2].str() == "\xC3\xA9\xF0\x9F\x98\x80");
  CHECK((*j)["body"]["a"][1].is_number());
  CHECK(!(*j)["body"]["a"][1].is_int());
  CHECK((*j)["n"].is_null());
  CHECK((*j)["absent"].missing());
  CHECK(j->Keys() == std::vector<std::string>{"t", "seq", "body", "n"});
  auto big = Json::Parse("9007199254740993");
  REQUIRE(big);
  CHECK(big->as_int() == 9007199254740993LL);
  for (const char* bad : {"", "{", "{\"a\":1,}", "[1,]", "01", "1.", "-", "\"\\x\"", "\"a\nb\"",
                          "\"\\ud800\"", "{} x", "tru", "{'a':1}", "[1 2]"}) {
    INFO(bad);
    CHECK(!Json::Parse(bad));
  }
  CHECK(JsonQuote("a\"b\\c\n") == "\"a\\\"b\\\\c\\u000a\"");
}

}  // namespace
}  // namespace longlink::test
