// Connection: the transport half of one accepted TCP connection, owned by the
// shard that accepted it. It is a uv_poll_t on the socket plus the bytes not
// yet written; the shard does the read(2)/writev(2) calls itself so that a
// read batch turns into one write (see Shard::Cork) and so that an idle
// connection costs little: uv_poll_t is 160 bytes where uv_tcp_t is 248, and
// there is no per-connection read buffer (every read lands in the shard's).
// Protocol layers derive from Connection and add their own (small) state.
//
// Thread contract: touched only on its shard's thread.
#pragma once

#include <uv.h>

#include <cstdint>

#include "net/out_queue.h"

namespace longlink::net {

class Shard;

struct Connection {
  enum Flags : uint16_t {
    kClosed = 1 << 0,         // uv_close called; the object lives until OnClosed
    kWatchWritable = 1 << 1,  // UV_WRITABLE is registered (to flush `out`)
    kDirty = 1 << 2,          // in the shard's flush list
    kShutdownPending = 1 << 3,  // shutdown(SHUT_WR) once `out` is written
    kLingering = 1 << 4,      // write side shut; reading and discarding until EOF
    kDraining = 1 << 5,       // no new output accepted (slow consumer, closing)
    kReadPaused = 1 << 6,
    kPollRead = 1 << 7,       // UV_READABLE is registered
  };

  uv_poll_t poll;               // 160 bytes; poll.data is the Shard
  OutQueue* out = nullptr;      // null while nothing is pending
  // Shard-relative milliseconds of the last inbound bytes; while closing, of
  // the moment the close began (for its deadline). Compared by unsigned
  // difference, so the 49-day wrap is harmless.
  uint32_t last_rx_ms = 0;
  uint16_t flags = 0;
  uint8_t kind = 0;             // for the protocol layer
  uint8_t user_flags = 0;       // for the protocol layer

  bool closed() const { return flags & kClosed; }
  bool draining() const { return flags & kDraining; }
  size_t pending_bytes() const { return out ? out->bytes() : 0; }
  int fd() const { return poll.io_watcher.fd; }
};

static_assert(sizeof(Connection) <= 184, "keep the transport state small");

}  // namespace longlink::net
