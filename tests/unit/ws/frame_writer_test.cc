// Frame writer: header bytes for each length encoding, masked and not, as
// literal vectors; Mask against a byte-wise XOR at every phase, length and
// alignment; close payloads cut at a UTF-8 boundary.
#include "ws/frame_writer.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "ws/frame_format.h"
#include "ws/utf8.h"

namespace longlink::ws {
namespace {

using Bytes = std::vector<uint8_t>;

const uint8_t kKey[4] = {0x37, 0xfa, 0x21, 0x3d};

Bytes Header(uint8_t opcode, bool fin, uint64_t len, const uint8_t* key) {
  uint8_t out[kMaxHeaderSize];
  const size_t n = WriteHeader(out, opcode, fin, len, key);
  REQUIRE(n == HeaderSize(len, key != nullptr));
  return Bytes(out, out + n);
}

TEST_CASE("frame_writer: header bytes for lengths 0, 125, 126, 65535 and 65536, unmasked") {
  CHECK(Header(kText, true, 0, nullptr) == Bytes{0x81, 0x00});
  CHECK(Header(kBinary, true, 125, nullptr) == Bytes{0x82, 0x7D});
  CHECK(Header(kBinary, true, 126, nullptr) == Bytes{0x82, 0x7E, 0x00, 0x7E});
  CHECK(Header(kBinary, true, 65535, nullptr) == Bytes{0x82, 0x7E, 0xFF, 0xFF});
  CHECK(Header(kBinary, true, 65536, nullptr) ==
        Bytes{0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00});
  CHECK(Header(kBinary, true, 0x0102030405060708ull, nullptr) ==
        Bytes{0x82, 0x7F, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08});
}

TEST_CASE("frame_writer: header bytes for lengths 0, 125, 126, 65535 and 65536, masked") {
  CHECK(Header(kText, true, 0, kKey) == Bytes{0x81, 0x80, 0x37, 0xfa, 0x21, 0x3d});
  CHECK(Header(kText, true, 5, kKey) == Bytes{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d});
  CHECK(Header(kBinary, true, 125, kKey) == Bytes{0x82, 0xFD, 0x37, 0xfa, 0x21, 0x3d});
  CHECK(Header(kBinary, true, 126, kKey) == Bytes{0x82, 0xFE, 0x00, 0x7E, 0x37, 0xfa, 0x21, 0x3d});
  CHECK(Header(kBinary, true, 65535, kKey) ==
        Bytes{0x82, 0xFE, 0xFF, 0xFF, 0x37, 0xfa, 0x21, 0x3d});
  CHECK(Header(kBinary, true, 65536, kKey) ==
        Bytes{0x82, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x37, 0xfa, 0x21, 0x3d});
}

TEST_CASE("frame_writer: header first byte carries FIN and the opcode") {
  CHECK(Header(kText, false, 3, nullptr) == Bytes{0x01, 0x03});
  CHECK(Header(kContinuation, false, 3, nullptr) == Bytes{0x00, 0x03});
  CHECK(Header(kContinuation, true, 2, nullptr) == Bytes{0x80, 0x02});
  CHECK(Header(kPing, true, 5, nullptr) == Bytes{0x89, 0x05});
  CHECK(Header(kPong, true, 5, nullptr) == Bytes{0x8A, 0x05});
  CHECK(Header(kClose, true, 2, nullptr) == Bytes{0x88, 0x02});
}

TEST_CASE("frame_writer: HeaderSize at each encoding boundary") {
  CHECK(HeaderSize(0, false) == 2);
  CHECK(HeaderSize(125, false) == 2);
  CHECK(HeaderSize(126, false) == 4);
  CHECK(HeaderSize(65535, false) == 4);
  CHECK(HeaderSize(65536, false) == 10);
  CHECK(HeaderSize(UINT64_MAX >> 1, false) == 10);
  CHECK(HeaderSize(0, true) == 6);
  CHECK(HeaderSize(65536, true) == kMaxHeaderSize);
}

TEST_CASE("frame_writer: Mask masks the RFC's Hello") {
  uint8_t hello[] = {'H', 'e', 'l', 'l', 'o'};
  CHECK(Mask(hello, 5, kKey, 0) == 1);
  CHECK(Bytes(hello, hello + 5) == Bytes{0x7f, 0x9f, 0x4d, 0x51, 0x58});
}

TEST_CASE("frame_writer: Mask at each phase, length and alignment equals a byte-wise XOR") {
  const uint8_t key[4] = {0x01, 0x80, 0xFF, 0x5A};
  for (size_t phase = 0; phase < 4; ++phase) {
    for (size_t offset = 0; offset < 8; ++offset) {
      for (size_t len = 0; len <= 70; ++len) {
        Bytes buf(offset + len + 8);
        for (size_t i = 0; i < buf.size(); ++i) {
          buf[i] = uint8_t(i * 31 + 7);
        }
        Bytes want = buf;
        for (size_t i = 0; i < len; ++i) {
          want[offset + i] ^= key[(phase + i) % 4];
        }
        INFO("phase ", phase, " offset ", offset, " len ", len);
        REQUIRE(Mask(buf.data() + offset, len, key, phase) == (phase + len) % 4);
        REQUIRE(buf == want);  // bytes around the range untouched
      }
    }
  }
}

TEST_CASE("frame_writer: Mask in pieces equals Mask in one go") {
  Bytes whole(1000), pieces(1000);
  for (size_t i = 0; i < whole.size(); ++i) {
    whole[i] = pieces[i] = uint8_t(i ^ (i >> 3));
  }
  Mask(whole.data(), whole.size(), kKey, 0);
  size_t phase = 0;
  size_t pos = 0;
  for (size_t n = 1; pos < pieces.size(); n = n * 3 % 37 + 1) {
    n = std::min(n, pieces.size() - pos);
    phase = Mask(pieces.data() + pos, n, kKey, phase);
    pos += n;
  }
  CHECK(pieces == whole);
}

TEST_CASE("frame_writer: WriteClosePayload writes the code big-endian and the reason") {
  uint8_t out[kMaxControlPayload];
  CHECK(WriteClosePayload(out, 1000, "") == 2);
  CHECK(Bytes(out, out + 2) == Bytes{0x03, 0xE8});
  const size_t n = WriteClosePayload(out, 4008, "slow consumer");
  CHECK(n == 15);
  CHECK(Bytes(out, out + 2) == Bytes{0x0F, 0xA8});
  CHECK(std::string(reinterpret_cast<char*>(out) + 2, n - 2) == "slow consumer");
}

TEST_CASE("frame_writer: WriteClosePayload cuts a long reason at a code point boundary") {
  uint8_t out[kMaxControlPayload];
  // ASCII: cut at exactly 123 bytes of reason.
  CHECK(WriteClosePayload(out, 1000, std::string(200, 'a')) == kMaxControlPayload);
  // 122 ASCII bytes then "é" (2 bytes): it would end at 124, so it goes.
  const std::string two = std::string(122, 'a') + "\xC3\xA9";
  CHECK(WriteClosePayload(out, 1000, two) == 2 + 122);
  // An exact fit stays.
  const std::string fits = std::string(121, 'a') + "\xC3\xA9";
  CHECK(WriteClosePayload(out, 1000, fits) == 2 + 123);
  // A 4-byte emoji straddling the limit at each of its positions.
  for (size_t ascii = 119; ascii <= 123; ++ascii) {
    const std::string reason = std::string(ascii, 'a') + "\xF0\x9F\x98\x80" + "tail";
    const size_t len = WriteClosePayload(out, 1000, reason);
    INFO("ascii ", ascii);
    CHECK(len <= kMaxControlPayload);
    CHECK(len == 2 + (ascii + 4 <= 123 ? ascii + 4 : ascii));
    CHECK(IsValidUtf8(out + 2, len - 2));
  }
  // Three-byte characters only: 41 of them fill 123 bytes exactly.
  std::string euros;
  for (int i = 0; i < 50; ++i) {
    euros += "\xE2\x82\xAC";
  }
  CHECK(WriteClosePayload(out, 1000, euros) == 2 + 123);
  CHECK(WriteClosePayload(out, 1000, "x" + euros) == 2 + 1 + 120);
}

}  // namespace
}  // namespace longlink::ws
