// Server: owns the shards and what they share read-only (the config, the
// list of shards for /metrics), plus the few process-wide atomics (ready
// shards, open WebSockets for --max-conns). Start() opens the listening
// sockets and starts one thread per shard; Stop() asks every shard to close
// its sessions with 1001 and finish; Wait() joins them.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "net/shard.h"
#include "core/hub.h"
#include "server/config.h"
#include "storage/store.h"

namespace longlink::server {

class Session;

class Server {
 public:
  explicit Server(const Config& cfg);
  ~Server();

  // Opens the listeners and starts the shards; logs "listening on HOST:PORT".
  Status Start();
  void Stop();  // any thread
  void Wait();

  const Config& config() const { return cfg_; }
  int shard_count() const { return int(shards_.size()); }
  // Shard `i` (< shard_count()); any thread once Start() returned, for
  // posting to its mailbox.
  net::Shard* shard(int i) const { return shards_[size_t(i)].get(); }
  int port() const { return port_; }
  bool ready() const;  // every shard listening (any thread)
  std::vector<const ops::ShardMetrics*> metrics() const;

  // Open WebSockets across shards, for --max-conns. Relaxed: the limit is a
  // guard against overload, not an exact count at every instant.
  bool TryAddSocket();
  void RemoveSocket();

 private:
  Config cfg_;
  std::unique_ptr<storage::Store> store_;  // --storage disk; outlives the hubs
  std::vector<std::unique_ptr<net::Shard>> shards_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<std::unique_ptr<core::Hub>> hubs_;  // destroyed before the shards
  std::atomic<int> stopped_shards_{0};
  std::atomic<int64_t> sockets_{0};
  int port_ = 0;
};

}  // namespace longlink::server
