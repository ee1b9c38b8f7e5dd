// Histogram index arithmetic; see histogram.h for the layout.
#include "common/histogram.h"

#include <algorithm>
#include <cmath>

namespace longlink::bench {

namespace {
constexpr uint64_t kLinear = uint64_t{2} << Histogram::kSubBits;  // 2048: exact below
static_assert(kLinear == 2048);
}  // namespace

Histogram::Histogram() : counts_(new uint64_t[kSlots]()) {}

// Values v in [2^(e+11), 2^(e+12)) share the shift e+1 and land in slots
// [(e+2) * 1024, (e+3) * 1024), which continue where the exact range ends.
size_t Histogram::IndexOf(uint64_t v) {
  if (v < kLinear)
    return size_t(v);
  int shift = 63 - __builtin_clzll(v) - kSubBits;  // >= 1
  uint64_t sub = v >> shift;                       // in [1024, 2048)
  return size_t(shift) * (size_t{1} << kSubBits) + size_t(sub);
}

uint64_t Histogram::UpperBound(size_t index) {
  if (index < kLinear)
    return index;
  size_t shift = index / (size_t{1} << kSubBits) - 1;
  uint64_t sub = index - shift * (size_t{1} << kSubBits);
  return (sub << shift) + (uint64_t{1} << shift) - 1;
}

void Histogram::Record(uint64_t ns) {
  if (ns > kMaxNs)
    ns = kMaxNs;
  ++counts_[IndexOf(ns)];
  ++count_;
  sum_ += ns;
  if (ns < min_)
    min_ = ns;
  if (ns > max_)
    max_ = ns;
}

void Histogram::Reset() {
  std::fill(counts_.get(), counts_.get() + kSlots, 0);
  count_ = 0;
  sum_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
}

uint64_t Histogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0)
    return 0;
  double p = std::clamp(percentile, 0.0, 100.0);
  uint64_t target = uint64_t(std::ceil(p / 100.0 * double(count_)));
  if (target == 0)
    target = 1;
  uint64_t seen = 0;
  size_t last = IndexOf(max_);
  for (size_t i = 0; i <= last; ++i) {
    seen += counts_[i];
    if (seen >= target)
      return std::min(UpperBound(i), max_);
  }
  return max_;
}

}  // namespace longlink::bench
