// The id grammar (1..64 bytes of [A-Za-z0-9_.@-]), destinations, direct
// conversation names in byte order, and conversation parsing (PROTOCOL.md
// sections 2 and 3).
#include "proto/ids.h"

#include <string>

#include <doctest/doctest.h>

namespace longlink::proto {
namespace {

TEST_CASE("ids: accepts every allowed byte and lengths 1 and 64") {
  CHECK(IsValidId("a"));
  CHECK(IsValidId("alice"));
  CHECK(IsValidId("Zed"));
  CHECK(IsValidId("c-7f3a"));
  CHECK(IsValidId("user.name@example_org-1"));
  CHECK(IsValidId("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."));
  CHECK(IsValidId("_.@-"));
  CHECK(IsValidId(std::string(64, 'x')));
}

TEST_CASE("ids: rejects empty, 65 bytes and every byte outside the grammar") {
  CHECK_FALSE(IsValidId(""));
  CHECK_FALSE(IsValidId(std::string(65, 'x')));
  for (int c = 0; c < 256; ++c) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '@' || c == '-';
    std::string s = "ab";
    s.insert(1, 1, static_cast<char>(c));
    CHECK_MESSAGE(IsValidId(s) == allowed, "byte ", c);
  }
}

TEST_CASE("ids: rejects unicode, spaces, colons and NUL") {
  CHECK_FALSE(IsValidId("caf\xc3\xa9"));
  CHECK_FALSE(IsValidId("\xe2\x98\x83"));
  CHECK_FALSE(IsValidId("a b"));
  CHECK_FALSE(IsValidId("a:b"));
  CHECK_FALSE(IsValidId(std::string("a\0b", 3)));
  CHECK_FALSE(IsValidId("a\\b"));
  CHECK_FALSE(IsValidId("a/b"));
}

TEST_CASE("ids: parses u: and g: destinations") {
  Destination d;
  REQUIRE(ParseDestination("u:bob", &d));
  CHECK(d.kind == DestKind::kUser);
  CHECK(d.name == "bob");
  REQUIRE(ParseDestination("g:team", &d));
  CHECK(d.kind == DestKind::kGroup);
  CHECK(d.name == "team");
  REQUIRE(ParseDestination("u:" + std::string(64, 'b'), &d));
  CHECK(d.name.size() == 64);
}

TEST_CASE("ids: rejects malformed destinations") {
  Destination d;
  for (const char* s : {"", "u", "u:", "g:", "bob", "x:bob", "U:bob", "u;bob", "d:a:b", "u:b:c",
                        "u:bad id", "u: bob", " u:bob"}) {
    CHECK_MESSAGE(!ParseDestination(s, &d), s);
  }
  CHECK_FALSE(ParseDestination("u:" + std::string(65, 'b'), &d));
}

TEST_CASE("ids: DirectConv orders the two users by bytes") {
  CHECK(DirectConv("alice", "bob") == "d:alice:bob");
  CHECK(DirectConv("bob", "alice") == "d:alice:bob");
  // Uppercase sorts before lowercase in byte order.
  CHECK(DirectConv("amy", "Zed") == "d:Zed:amy");
  CHECK(DirectConv("Zed", "amy") == "d:Zed:amy");
  CHECK(DirectConv("alice", "alice") == "d:alice:alice");
  // A prefix sorts first; digits and punctuation before letters.
  CHECK(DirectConv("bobby", "bob") == "d:bob:bobby");
  CHECK(DirectConv("b", "9") == "d:9:b");
  CHECK(DirectConv("a", "-") == "d:-:a");
  CHECK(DirectConv("a_", "a.") == "d:a.:a_");
  CHECK(DirectConv("bob", "system") == "d:bob:system");
}

TEST_CASE("ids: AppendDirectConv and GroupConv append to a buffer") {
  std::string s = "x";
  AppendDirectConv(&s, "b", "a");
  AppendGroupConv(&s, "team");
  CHECK(s == "xd:a:bg:team");
  CHECK(GroupConv("lobby") == "g:lobby");
}

TEST_CASE("ids: parses direct and group conversation names") {
  ConvId c;
  REQUIRE(ParseConv("d:alice:bob", &c));
  CHECK(c.kind == ConvKind::kDirect);
  CHECK(c.a == "alice");
  CHECK(c.b == "bob");
  REQUIRE(ParseConv("d:Zed:amy", &c));
  CHECK(c.a == "Zed");
  CHECK(c.b == "amy");
  REQUIRE(ParseConv("d:alice:alice", &c));
  CHECK(c.a == "alice");
  CHECK(c.b == "alice");
  REQUIRE(ParseConv("g:lobby", &c));
  CHECK(c.kind == ConvKind::kGroup);
  CHECK(c.a == "lobby");
  CHECK(c.b.empty());
  const std::string longest = "d:" + std::string(64, 'a') + ":" + std::string(64, 'b');
  CHECK(longest.size() == kMaxConvLen);
  CHECK(ParseConv(longest, &c));
}

TEST_CASE("ids: rejects conversation names out of order or outside the grammar") {
  ConvId c;
  for (const char* s : {"", "d", "d:", "d:alice", "d:alice:", "d::bob", "d:bob:alice", "d:amy:Zed",
                        "d:a:b:c", "g:", "g:a:b", "g:bad name", "u:bob", "x:alice:bob",
                        "D:alice:bob", "G:team", "dalice:bob", "d:al ice:bob", "g:caf\xc3\xa9"}) {
    CHECK_MESSAGE(!ParseConv(s, &c), s);
  }
  CHECK_FALSE(ParseConv("g:" + std::string(65, 'a'), &c));
  CHECK_FALSE(ParseConv("d:a:" + std::string(65, 'b'), &c));
}

TEST_CASE("ids: DirectConv output always parses back to its two users") {
  const char* users[] = {"alice", "bob", "Zed", "amy", "a", "A", "0", "_", "a.b", "a@b"};
  for (const char* x : users) {
    for (const char* y : users) {
      ConvId c;
      const std::string name = DirectConv(x, y);
      REQUIRE(ParseConv(name, &c));
      CHECK(((c.a == x && c.b == y) || (c.a == y && c.b == x)));
    }
  }
}

}  // namespace
}  // namespace longlink::proto
