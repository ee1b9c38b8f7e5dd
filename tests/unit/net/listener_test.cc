#include "net/listener.h"

#include <doctest/doctest.h>
#include <unistd.h>

using longlink::net::OpenListeners;
using longlink::net::ParseListenAddress;

TEST_CASE("listener: parses IPv4, IPv6 and empty-host addresses") {
  auto a = ParseListenAddress("127.0.0.1:8080");
  REQUIRE(a.ok());
  CHECK(a->port == 8080);
  auto b = ParseListenAddress("[::1]:0");
  REQUIRE(b.ok());
  CHECK(b->addr.ss_family == AF_INET6);
  auto c = ParseListenAddress(":9000");
  REQUIRE(c.ok());
  CHECK(c->host == "0.0.0.0");
}

TEST_CASE("listener: rejects addresses without a valid port") {
  for (const char* bad : {"nohost", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "1.2.3.4:x",
                          "[::1]8080"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseListenAddress(bad).ok());
  }
}

TEST_CASE("listener: port 0 gives every shard's socket the same real port") {
  auto a = ParseListenAddress("127.0.0.1:0");
  REQUIRE(a.ok());
  auto fds = OpenListeners(&a.value(), 3, 16);
  REQUIRE(fds.ok());
  CHECK(fds->size() == 3);
  CHECK(a->port > 0);
  for (int fd : fds.value()) close(fd);
}
