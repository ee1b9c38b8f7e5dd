#include "base/bytes.h"

#include <doctest/doctest.h>

#include <string>

using longlink::ParseBytes;
using longlink::ParseDurationSeconds;
using longlink::ParseUint;
using longlink::ParseUintSaturated;

TEST_CASE("bytes: parses plain integers and KiB/MiB/GiB suffixes") {
  CHECK(ParseBytes("0") == 0u);
  CHECK(ParseBytes("65536") == 65536u);
  CHECK(ParseBytes("64KiB") == 65536u);
  CHECK(ParseBytes("16MiB") == 16u * 1024 * 1024);
  CHECK(ParseBytes("2GiB") == 2ull * 1024 * 1024 * 1024);
}

TEST_CASE("bytes: rejects signs, spaces, unknown suffixes and overflow") {
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "12XB", "1KB", "1kib", "KiB", "1.5MiB",
                          "99999999999999999999", "17179869184GiB"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseBytes(bad).has_value());
  }
}

TEST_CASE("bytes: ParseUint honours its maximum") {
  CHECK(ParseUint("65535", 65535) == 65535u);
  CHECK_FALSE(ParseUint("65536", 65535).has_value());
  CHECK(ParseUint("18446744073709551615") == UINT64_MAX);
  CHECK_FALSE(ParseUint("18446744073709551616").has_value());
}

TEST_CASE("bytes: ParseUintSaturated reads any length, past UINT64_MAX as UINT64_MAX") {
  CHECK(ParseUintSaturated("0") == 0u);
  CHECK(ParseUintSaturated("18446744073709551615") == UINT64_MAX);
  CHECK(ParseUintSaturated("18446744073709551616") == UINT64_MAX);
  CHECK(ParseUintSaturated("000000000000000000000000042") == 42u);
  CHECK(ParseUintSaturated(std::string(200, '9')) == UINT64_MAX);
  for (const char* bad : {"", "-1", "+1", " 1", "1x", "99999999999999999999999x"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseUintSaturated(bad).has_value());
  }
}

TEST_CASE("bytes: durations take s, m, h and d") {
  CHECK(ParseDurationSeconds("30s") == 30u);
  CHECK(ParseDurationSeconds("15m") == 900u);
  CHECK(ParseDurationSeconds("2h") == 7200u);
  CHECK(ParseDurationSeconds("7d") == 604800u);
  for (const char* bad : {"", "s", "10", "10x", "-1d", "1.5h", "h1"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseDurationSeconds(bad).has_value());
  }
}
