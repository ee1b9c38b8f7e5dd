// Parsing of the command line's value syntax (PROTOCOL.md section 10):
// byte sizes ("65536", "64KiB", "16MiB", "1GiB"), whole seconds, and
// durations ("30s", "15m", "2h", "7d"). Pure functions, no allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace longlink {

// Bytes: a plain non-negative integer or one followed by KiB, MiB or GiB.
std::optional<uint64_t> ParseBytes(std::string_view s);
// A non-negative integer (no sign, no suffix, no leading '+'), at most `max`.
std::optional<uint64_t> ParseUint(std::string_view s, uint64_t max = UINT64_MAX);
// Digits of any length, a value past UINT64_MAX read as UINT64_MAX (as a /ws
// frame's integers are: an `after` past every seq is a valid empty page).
std::optional<uint64_t> ParseUintSaturated(std::string_view s);
// Duration: an integer followed by s, m, h or d; returns seconds.
std::optional<uint64_t> ParseDurationSeconds(std::string_view s);

}  // namespace longlink
