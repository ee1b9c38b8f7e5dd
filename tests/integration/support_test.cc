// Self-checks of tests/support against known answers, so a bug in the test
// helpers cannot make server checks pass or fail for the wrong reason.
#include <string>

#include <doctest/doctest.h>

#include "support/server.h"
#include "support/sha1.h"
#include "support/ws_client.h"

namespace longlink::test {
namespace {

TEST_CASE("support: computes the RFC 6455 sample accept key") {
  // RFC 6455 section 1.3, and FIPS 180 "abc"; the last spans several blocks.
  CHECK(WsAcceptFor("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(Base64(Sha1("abc")) == "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
  CHECK(Base64(Sha1(std::string(1000, 'a'))) == "KR6abGaZSUm1e6XmUDYemPw2sbo=");
  CHECK(Base64("") == "");
  CHECK(Base64("f") == "Zg==");
  CHECK(Base64("fo") == "Zm8=");
  CHECK(Base64("foo") == "Zm9v");
}

TEST_CASE("support: encodes client frames as in RFC 6455 section 5.7") {
  // Unmasked "Hello" and the 16-bit and 64-bit length forms.
  CHECK(EncodeFrame(op::kText, "Hello", true, false) == "\x81\x05Hello");
  std::string f = EncodeFrame(op::kBinary, std::string(256, 'x'), true, false);
  CHECK(f.substr(0, 4) == std::string("\x82\x7E\x01\x00", 4));
  f = EncodeFrame(op::kBinary, std::string(65536, 'x'), true, false);
  CHECK(f.substr(0, 10) == std::string("\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10));
  // Masked: the payload XOR the key gives the text back.
  f = EncodeFrame(op::kText, "Hello");
  REQUIRE(f.size() == 2 + 4 + 5);
  CHECK(uint8_t(f[1]) == 0x85);
  std::string unmasked;
  for (int i = 0; i < 5; ++i) unmasked.push_back(char(f[6 + i] ^ f[2 + i % 4]));
  CHECK(unmasked == "Hello");
  CHECK(EncodeFrame(op::kPing, "", false, false, 0x40) == std::string("\x49\x00", 2));
}

TEST_CASE("support: validates UTF-8 like RFC 3629") {
  CHECK(IsUtf8(""));
  CHECK(IsUtf8("plain"));
  CHECK(IsUtf8("h\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E \xF4\x8F\xBF\xBF"));
  CHECK(!IsUtf8("\xFF"));
  CHECK(!IsUtf8("\xC3"));
  CHECK(!IsUtf8("\xC0\xAF"));
  CHECK(!IsUtf8("\xE0\x80\xAF"));
  CHECK(!IsUtf8("\xED\xA0\x80"));
  CHECK(!IsUtf8("\xF4\x90\x80\x80"));
  CHECK(!IsUtf8("\xE2\x82"));
  CHECK(!IsUtf8("a\x80"));
}

TEST_CASE("support: counts lines of process output") {
  CHECK(CountLines("") == 0);
  CHECK(CountLines("one\n") == 1);
  CHECK(CountLines("one") == 1);
  CHECK(CountLines("one\ntwo\n") == 2);
}

}  // namespace
}  // namespace longlink::test
