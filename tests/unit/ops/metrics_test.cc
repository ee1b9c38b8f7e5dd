#include "ops/metrics.h"

#include <doctest/doctest.h>

#include <string>

using longlink::ops::Histogram;
using longlink::ops::RenderPrometheus;
using longlink::ops::ShardMetrics;

TEST_CASE("metrics: renders every shard with a shard label and HELP/TYPE lines") {
  ShardMetrics a, b;
  a.ws_frames_in_total.Add(5);
  b.ws_frames_in_total.Add(7);
  b.connections.Add(3);
  b.connections.Sub(1);
  std::string out;
  RenderPrometheus({&a, &b}, &out);
  CHECK(out.find("# TYPE longlink_ws_frames_in_total counter\n") != std::string::npos);
  CHECK(out.find("longlink_ws_frames_in_total{shard=\"0\"} 5\n") != std::string::npos);
  CHECK(out.find("longlink_ws_frames_in_total{shard=\"1\"} 7\n") != std::string::npos);
  CHECK(out.find("# TYPE longlink_connections gauge\n") != std::string::npos);
  CHECK(out.find("longlink_connections{shard=\"1\"} 2\n") != std::string::npos);
  CHECK(out.find("longlink_shards 2\n") != std::string::npos);
}

TEST_CASE("metrics: histogram puts values in power-of-two buckets") {
  Histogram h;
  h.Observe(0);
  h.Observe(1);
  h.Observe(3);   // (2,4]
  h.Observe(4);   // (2,4]
  h.Observe(1ull << 40);  // +Inf
  CHECK(h.bucket(0) == 2);
  CHECK(h.bucket(2) == 2);
  CHECK(h.bucket(Histogram::kBuckets) == 1);
  CHECK(h.count() == 5);
  CHECK(h.sum_micros() == 8 + (1ull << 40));
}
