// Metrics: per-shard counters and gauges, and their Prometheus text rendering
// for GET /metrics (names prefixed longlink_, labelled shard="N").
//
// Thread contract: each ShardMetrics is written only by its own shard's
// thread. A counter update is a relaxed load plus a relaxed store (no locked
// read-modify-write: there is one writer), so the hot path costs a plain add.
// Any shard may render all shards' metrics: relaxed loads see each value
// whole (aligned 64-bit), possibly a moment old, which is all a scrape needs.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace longlink::ops {

class Counter {
 public:
  void Add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Sub(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  void Set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// A latency histogram with fixed power-of-two bucket bounds in microseconds
// (1 µs .. ~33 s), rendered as a Prometheus histogram in seconds.
class Histogram {
 public:
  static constexpr int kBuckets = 26;
  void Observe(uint64_t micros, uint64_t times = 1);
  uint64_t bucket(int i) const { return b_[i].Get(); }
  uint64_t count() const { return count_.Get(); }
  uint64_t sum_micros() const { return sum_.Get(); }
  static uint64_t BoundMicros(int i) { return 1ull << i; }

 private:
  Counter b_[kBuckets + 1];  // last: +Inf
  Counter count_, sum_;
};

#define LL_SHARD_COUNTERS(X)                                                        \
  X(connections, gauge, "Open TCP connections")                                    \
  X(ws_connections, gauge, "Open WebSocket connections")                           \
  X(connections_accepted_total, counter, "TCP connections accepted")               \
  X(http_requests_total, counter, "HTTP requests handled")                         \
  X(http_errors_total, counter, "HTTP requests answered with a 4xx/5xx status")    \
  X(ws_upgrades_total, counter, "WebSocket upgrades completed")                    \
  X(ws_frames_in_total, counter, "WebSocket frames received")                      \
  X(ws_frames_out_total, counter, "WebSocket frames sent")                         \
  X(ws_messages_in_total, counter, "WebSocket data messages received")             \
  X(bytes_in_total, counter, "Bytes read from sockets")                            \
  X(bytes_out_total, counter, "Bytes written to sockets")                          \
  X(ws_protocol_errors_total, counter, "Connections failed for a protocol error")  \
  X(ws_pings_sent_total, counter, "Heartbeat pings sent")                          \
  X(heartbeat_closes_total, counter, "Connections closed for heartbeat silence")   \
  X(slow_consumer_closes_total, counter, "Connections closed as slow consumers")    \
  X(overloaded_total, counter, "Upgrades refused over --max-conns")                \
  X(request_timeouts_total, counter, "HTTP requests timed out (408)")              \
  X(outbuf_bytes, gauge, "Bytes queued and not yet written")                       \
  X(early_flushes_total, counter, "Mid-turn writes of output over the flush budget") \
  X(write_batches_total, counter, "Writes to several connections in one io_uring submission") \
  X(read_batches_total, counter, "Reads of several connections in one io_uring submission") \
  X(sessions, gauge, "Sessions that said hello")                                   \
  X(messages_in_total, counter, "send frames received")                            \
  X(deliveries_total, counter, "Frames pushed to connections (msg, receipt)")      \
  X(rate_limited_total, counter, "Frames dropped by the rate limit")               \
  X(rate_limit_closes_total, counter, "Connections closed for rate abuse (4029)")  \
  X(hello_timeouts_total, counter, "Connections closed without hello (4002)")      \
  X(sse_streams, gauge, "Open SSE event streams")                                  \
  X(sse_posts_total, counter, "POST /send requests received")                      \
  X(sse_posts_forwarded_total, counter, "POST /send frames for another shard")     \
  X(redeliveries_total, counter, "Pushes sent again for want of a recv")             \
  X(receipts_total, counter, "Receipt frames sent, one per receiving connection")    \
  X(acks_pending, gauge, "Pushes waiting for a recv")                              \
  X(mailbox_depth, gauge, "Items waiting in the shard mailbox")                   \
  X(log_bytes_total, counter, "Bytes written to the log")                         \
  X(log_records_total, counter, "Records appended to the log")                    \
  X(fsyncs_total, counter, "Log fsyncs (one covers every record before it)")      \
  X(log_failed_partitions, gauge, "Log partitions failed by a write/fsync error") \
  X(log_segments_deleted_total, counter, "Log segments dropped by --retention")

struct ShardMetrics {
#define LL_DECLARE(name, kind, help) Counter name;
  LL_SHARD_COUNTERS(LL_DECLARE)
#undef LL_DECLARE
  Histogram send_to_ack;       // send read -> ack queued (this shard's sessions)
  Histogram send_to_delivery;  // send read -> push queued (recipients on this shard)
  Histogram fsync_latency;     // one log fsync (off the loop)
};

// Renders every shard's metrics plus process-wide lines in Prometheus text
// format 0.0.4.
void RenderPrometheus(const std::vector<const ShardMetrics*>& shards, std::string* out);

}  // namespace longlink::ops
