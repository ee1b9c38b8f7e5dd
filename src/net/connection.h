// Connection: the transport half of one accepted TCP connection, owned by the
// shard that accepted it. It is the socket, registered in the shard's
// connection epoll set (see shard.h), plus the bytes not yet written; the
// shard does the recv/sendmsg calls itself so that a read batch turns into
// one write (see Shard::Cork) and so that an idle connection costs little:
// 40 bytes here, where a uv_poll_t alone is 160 and a uv_tcp_t 248, and no
// per-connection read buffer (every read lands in the shard's).
// Protocol layers derive from Connection and add their own (small) state.
//
// Thread contract: touched only on its shard's thread.
#pragma once

#include <cstdint>

#include "net/out_queue.h"

namespace longlink::net {

class Shard;

struct Connection {
  enum Flags : uint16_t {
    kClosed = 1 << 0,         // uv_close called; the object lives until OnClosed
    kWatchWritable = 1 << 1,  // EPOLLOUT is registered (to flush `out`)
    kDirty = 1 << 2,          // in the shard's flush list
    kShutdownPending = 1 << 3,  // shutdown(SHUT_WR) once `out` is written
    kLingering = 1 << 4,      // write side shut; reading and discarding until EOF
    kDraining = 1 << 5,       // no new output accepted (slow consumer, closing)
    kReadPaused = 1 << 6,
    kPollRead = 1 << 7,       // EPOLLIN is registered
    // The handler wants OnDrained once `out` is empty (NotifyWhenDrained):
    // writability is watched until then, even with nothing queued.
    kNotifyDrained = 1 << 8,
  };

  OutQueue* out = nullptr;      // null while nothing is pending
  // The shard's list of its connections (Shard::ForEach); a closed one stays
  // in it until the end of the loop turn, when it is freed.
  Connection* prev = nullptr;
  Connection* next = nullptr;
  int sock = -1;
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
  int fd() const { return sock; }
};

static_assert(sizeof(Connection) <= 48, "keep the transport state small");

}  // namespace longlink::net
