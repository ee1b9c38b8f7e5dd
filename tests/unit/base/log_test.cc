#include "base/log.h"

#include <doctest/doctest.h>

TEST_CASE("log: parses the four level names and nothing else") {
  longlink::LogLevel l;
  CHECK(longlink::ParseLogLevel("debug", &l));
  CHECK(l == longlink::LogLevel::kDebug);
  CHECK(longlink::ParseLogLevel("error", &l));
  CHECK(l == longlink::LogLevel::kError);
  CHECK_FALSE(longlink::ParseLogLevel("INFO", &l));
  CHECK_FALSE(longlink::ParseLogLevel("verbose", &l));
}
