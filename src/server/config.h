// Config: every setting of the command line (PROTOCOL.md section 10), with
// the defaults written there. Filled once by cli/flags.cc before the shards
// start and read-only afterwards, so shards share it without locks.
#pragma once

#include <cstdint>
#include <string>

namespace longlink::server {

enum class StorageKind { kDisk, kMemory };
enum class FsyncMode { kAlways, kInterval, kNever };
enum class AuthMode { kJwt, kNone };

struct Config {
  std::string listen = "127.0.0.1:8080";
  int threads = 0;  // 0: one per core
  std::string data_dir = "./data";
  StorageKind storage = StorageKind::kDisk;
  FsyncMode fsync = FsyncMode::kAlways;
  uint64_t fsync_ms = 1000;
  AuthMode auth = AuthMode::kJwt;
  std::string jwt_secret;  // from --jwt-secret-file or LONGLINK_JWT_SECRET
  std::string api_key;     // from --api-key-file or LONGLINK_API_KEY
  bool echo = false;
  bool web = false;
  uint64_t max_body = 64 * 1024;
  uint64_t max_message = 16 * 1024 * 1024;
  uint64_t max_outbuf = 8 * 1024 * 1024;
  uint64_t rate = 200;
  uint64_t max_conns = 1000000;
  uint64_t receipt_group_limit = 100;
  uint64_t hello_timeout_s = 10;
  uint64_t heartbeat_s = 25;
  uint64_t ack_timeout_s = 10;
  uint64_t retention_s = 0;  // 0: forever
  uint64_t segment_size = 64ull * 1024 * 1024;
  uint32_t partitions = 0;  // of a new --data-dir; 0: max(8, threads)
  // Beyond PROTOCOL.md (HTTP hardening).
  uint64_t request_timeout_s = 10;    // an HTTP request must complete within this
  uint64_t keepalive_timeout_s = 60;  // idle keep-alive HTTP connections are closed
  uint64_t max_header = 16 * 1024;    // request line + headers; more -> 431
  bool io_uring = true;               // batch writes to many connections (net::ShardOptions)
};

}  // namespace longlink::server
