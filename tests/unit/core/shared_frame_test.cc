// core::NewSharedFrame: the JSON after its WebSocket text frame header.
#include <cstdint>
#include <string>

#include <doctest/doctest.h>

#include "core/engine.h"

namespace longlink::core {
namespace {

// The header of an unmasked final text frame of `n` payload bytes (RFC 6455
// 5.2), written out by hand.
std::string ExpectedHeader(size_t n) {
  std::string h(1, char(0x81));
  if (n <= 125) {
    h += char(n);
  } else if (n <= 0xffff) {
    h += char(126);
    h += char(n >> 8);
    h += char(n & 0xff);
  } else {
    h += char(127);
    for (int shift = 56; shift >= 0; shift -= 8) h += char((uint64_t(n) >> shift) & 0xff);
  }
  return h;
}

TEST_CASE("a shared frame is the WebSocket header and the JSON, and payload() is the JSON") {
  for (size_t n : {size_t(0), size_t(1), size_t(125), size_t(126), size_t(65535), size_t(65536),
                   size_t(200000)}) {
    INFO("payload length " << n);
    std::string json(n, 'j');
    if (n > 0)
      json.back() = '}';
    net::SharedBuf* b = NewSharedFrame(json);
    const std::string hdr = ExpectedHeader(n);
    CHECK(b->head == hdr.size());
    CHECK(b->len == hdr.size() + n);
    CHECK(std::string(reinterpret_cast<const char*>(b->data), b->head) == hdr);
    CHECK(std::string(reinterpret_cast<const char*>(b->payload()), b->payload_len()) == json);
    CHECK_FALSE(b->appendable);
    CHECK(b->refs.load() == 1);
    b->Unref();
  }
}

}  // namespace
}  // namespace longlink::core
