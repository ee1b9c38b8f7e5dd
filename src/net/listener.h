// Listening sockets. Every shard listens on the same address with its own
// socket and SO_REUSEPORT, so the kernel spreads new connections over the
// shards without a shared accept lock. A port of 0 is resolved by the first
// socket and reused by the others.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace longlink::net {

struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string host;  // as given
  int port = 0;
};

// Parses HOST:PORT ("127.0.0.1:8080", "[::1]:8080", "localhost:0", ":8080").
Result<ListenAddress> ParseListenAddress(std::string_view s);

// Opens `count` non-blocking listening sockets on `addr` with SO_REUSEPORT;
// fills in the real port when 0 was asked for. On failure closes what it
// opened and says why.
Result<std::vector<int>> OpenListeners(ListenAddress* addr, int count, int backlog);

std::string FormatAddress(const ListenAddress& addr);

}  // namespace longlink::net
