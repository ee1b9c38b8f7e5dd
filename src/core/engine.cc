#include "core/engine.h"

#include <cstring>

#include "base/assert.h"

#include "ws/frame_format.h"
#include "ws/frame_writer.h"

namespace longlink::core {

net::SharedBuf* NewSharedFrame(std::string_view json) {
  uint8_t hdr[ws::kMaxHeaderSize];
  const size_t hl = ws::WriteHeader(hdr, ws::kText, true, json.size(), nullptr);
  LL_CHECK(hl <= UINT8_MAX);
  net::SharedBuf* b = net::SharedBuf::New(hl + json.size());
  std::memcpy(b->data, hdr, hl);
  std::memcpy(b->data + hl, json.data(), json.size());
  b->len = uint32_t(hl + json.size());
  b->head = uint8_t(hl);
  b->appendable = false;
  return b;
}

}  // namespace longlink::core
