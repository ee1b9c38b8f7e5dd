// Small value types the messaging core passes between shards.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/hash.h"

namespace longlink::core {

// A connection on some shard: the shard, its slot in that shard's table and
// the slot's generation (a slot is reused; a stale reference finds another
// generation there and is ignored). Copyable across threads as plain data.
struct ConnRef {
  uint32_t slot = 0;
  uint16_t shard = 0;
  uint16_t gen = 0;  // 0: no connection
  bool valid() const { return gen != 0; }
  bool operator==(const ConnRef& o) const {
    return slot == o.slot && shard == o.shard && gen == o.gen;
  }
};

// The request a reply goes to: a connection and the frame's id, if any.
struct Origin {
  ConnRef conn;
  bool has_id = false;
  uint64_t id = 0;
  bool http = false;  // an HTTP API request: reply as an HTTP response
  // A send, join or leave on /ws (or SSE): its reply tells the connection
  // (Sink::SendDone), which holds its later pulls and syncs until those are
  // answered.
  bool send = false;
};

// The shard that owns a user (U in ops.h). Not persisted: any --threads.
inline int UserOwnerOf(std::string_view user, int shards) {
  return int(StableHash(user) % uint64_t(shards));
}

// Lets unordered containers keyed by std::string be searched with a
// string_view, without building a string (C++20 heterogeneous lookup).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// The key of a device's cursor in a conversation.
inline std::string DeviceKey(std::string_view user, std::string_view device) {
  std::string k;
  k.reserve(user.size() + device.size() + 1);
  k.append(user).push_back('/');
  k.append(device);
  return k;
}

}  // namespace longlink::core
