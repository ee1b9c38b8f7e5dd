// Histogram: a log-linear latency histogram with HdrHistogram's bucket layout,
// used by every loadgen and imload mode to turn round-trip times into percentiles. Values
// are nanoseconds. Below 2048 ns each value has its own counter; above, each
// power of two is split into 1024 linear sub-buckets, so a reported value is
// at most 0.1% above the true one, and the resolution stays at or under 1 us
// up to 2 ms. Values above kMaxNs (10 s) are counted as kMaxNs. The counters
// are one fixed array of 25,600 slots (200 KiB), allocated once; Record() does
// not allocate and costs a count-leading-zeros and an increment.
// Single-threaded: one loop owns each histogram.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace longlink::bench {

class Histogram {
 public:
  static constexpr uint64_t kMaxNs = 10'000'000'000ull;
  static constexpr int kSubBits = 10;  // 1024 sub-buckets per power of two

  Histogram();

  void Record(uint64_t ns);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }

  // The smallest recorded bucket bound at or below which `percentile` (0-100)
  // of the values fall: HdrHistogram's "highest equivalent value", capped at
  // max(). 0 when empty.
  uint64_t ValueAtPercentile(double percentile) const;

 private:
  static size_t IndexOf(uint64_t v);
  static uint64_t UpperBound(size_t index);

  static constexpr size_t kSlots = 25 * (size_t{1} << kSubBits);  // covers kMaxNs (2^33.2)

  std::unique_ptr<uint64_t[]> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

// Nanoseconds as microseconds, for printing percentiles.
inline double Us(uint64_t ns) {
  return double(ns) / 1000.0;
}

}  // namespace longlink::bench
