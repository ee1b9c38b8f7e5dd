#include "ops/metrics.h"

#include <cstdio>

namespace longlink::ops {

void Histogram::Observe(uint64_t micros, uint64_t times) {
  int i = micros <= 1 ? 0 : 64 - __builtin_clzll(micros - 1);
  if (i > kBuckets) i = kBuckets;
  b_[i].Add(times);
  count_.Add(times);
  sum_.Add(micros * times);
}

namespace {

void AppendFamily(std::string* out, const char* name, const char* kind, const char* help,
                  const std::vector<const ShardMetrics*>& shards,
                  const Counter ShardMetrics::*field) {
  char line[256];
  std::snprintf(line, sizeof(line), "# HELP longlink_%s %s.\n# TYPE longlink_%s %s\n", name,
                help, name, kind);
  out->append(line);
  for (size_t i = 0; i < shards.size(); i++) {
    std::snprintf(line, sizeof(line), "longlink_%s{shard=\"%zu\"} %llu\n", name, i,
                  static_cast<unsigned long long>((shards[i]->*field).Get()));
    out->append(line);
  }
}

void AppendHistogram(std::string* out, const char* name, const char* help,
                     const std::vector<const ShardMetrics*>& shards,
                     const Histogram ShardMetrics::*field) {
  char line[256];
  std::snprintf(line, sizeof(line), "# HELP longlink_%s %s.\n# TYPE longlink_%s histogram\n",
                name, help, name);
  out->append(line);
  for (size_t s = 0; s < shards.size(); s++) {
    const Histogram& h = shards[s]->*field;
    uint64_t cum = 0;
    for (int i = 0; i <= Histogram::kBuckets; i++) {
      cum += h.bucket(i);
      if (i < Histogram::kBuckets) {
        std::snprintf(line, sizeof(line), "longlink_%s_bucket{shard=\"%zu\",le=\"%g\"} %llu\n",
                      name, s, double(Histogram::BoundMicros(i)) / 1e6,
                      static_cast<unsigned long long>(cum));
      } else {
        std::snprintf(line, sizeof(line), "longlink_%s_bucket{shard=\"%zu\",le=\"+Inf\"} %llu\n",
                      name, s, static_cast<unsigned long long>(cum));
      }
      out->append(line);
    }
    std::snprintf(line, sizeof(line), "longlink_%s_sum{shard=\"%zu\"} %g\n", name, s,
                  double(h.sum_micros()) / 1e6);
    out->append(line);
    std::snprintf(line, sizeof(line), "longlink_%s_count{shard=\"%zu\"} %llu\n", name, s,
                  static_cast<unsigned long long>(h.count()));
    out->append(line);
  }
}

}  // namespace

void RenderPrometheus(const std::vector<const ShardMetrics*>& shards, std::string* out) {
#define LL_RENDER(name, kind, help) \
  AppendFamily(out, #name, #kind, help, shards, &ShardMetrics::name);
  LL_SHARD_COUNTERS(LL_RENDER)
#undef LL_RENDER
  AppendHistogram(out, "send_to_ack_seconds",
                  "Latency from a send read to its ack queued for writing", shards,
                  &ShardMetrics::send_to_ack);
  AppendHistogram(out, "send_to_delivery_seconds",
                  "Latency from a send read to its push queued for writing", shards,
                  &ShardMetrics::send_to_delivery);
  AppendHistogram(out, "fsync_seconds", "Latency of one log fsync", shards,
                  &ShardMetrics::fsync_latency);
  char line[160];
  std::snprintf(line, sizeof(line),
                "# HELP longlink_shards Event-loop shards.\n# TYPE longlink_shards gauge\n"
                "longlink_shards %zu\n",
                shards.size());
  out->append(line);
}

}  // namespace longlink::ops
