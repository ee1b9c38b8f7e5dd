#include "base/bytes.h"

namespace longlink {

namespace {

// Digits only; past UINT64_MAX either nothing or, with `saturate`, UINT64_MAX.
std::optional<uint64_t> ParseDigits(std::string_view s, bool saturate) {
  if (s.empty() || (!saturate && s.size() > 20)) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      if (!saturate) return std::nullopt;
      v = UINT64_MAX;
    } else {
      v = v * 10 + d;
    }
  }
  return v;
}

}  // namespace

std::optional<uint64_t> ParseUint(std::string_view s, uint64_t max) {
  auto v = ParseDigits(s, false);
  if (v && *v > max) return std::nullopt;
  return v;
}

std::optional<uint64_t> ParseUintSaturated(std::string_view s) { return ParseDigits(s, true); }

std::optional<uint64_t> ParseBytes(std::string_view s) {
  uint64_t mult = 1;
  auto strip = [&](std::string_view suffix, uint64_t m) {
    if (s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix) {
      s.remove_suffix(suffix.size());
      mult = m;
      return true;
    }
    return false;
  };
  strip("KiB", 1ull << 10) || strip("MiB", 1ull << 20) || strip("GiB", 1ull << 30);
  auto v = ParseUint(s);
  if (!v || *v > UINT64_MAX / mult) return std::nullopt;
  return *v * mult;
}

std::optional<uint64_t> ParseDurationSeconds(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
  uint64_t mult;
  switch (s.back()) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    default: return std::nullopt;
  }
  auto v = ParseUint(s.substr(0, s.size() - 1));
  if (!v || *v > UINT64_MAX / mult) return std::nullopt;
  return *v * mult;
}

}  // namespace longlink
