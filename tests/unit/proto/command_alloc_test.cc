// CommandParser allocates nothing per frame once it has seen frames of the
// sizes it is given (the shard's steady state). This binary replaces the
// global operator new (every non-aligned form: simdjson uses the nothrow
// array one) to count calls.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "proto/command.h"
#include "proto/reply.h"

namespace {
std::atomic<size_t> g_news{0};

void* CountedAlloc(std::size_t n) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n != 0 ? n : 1);
}
void* CountedAllocOrThrow(std::size_t n) {
  void* p = CountedAlloc(n);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}
}  // namespace

// Every non-aligned form, so that no pointer from one allocator reaches the
// other's free (ASan checks that across libsimdjson.so too).
void* operator new(std::size_t n) {
  return CountedAllocOrThrow(n);
}
void* operator new[](std::size_t n) {
  return CountedAllocOrThrow(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return CountedAlloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return CountedAlloc(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace longlink::proto {
namespace {

std::vector<std::string> Frames() {
  std::string users = R"({"t":"presence","id":4,"users":[)";
  for (int i = 0; i < 1000; ++i) {
    users += (i ? ",\"user" : "\"user") + std::to_string(i) + "\"";
  }
  users += "]}";
  return {
      R"({"t":"hello","v":1,"token":"aaa.bbb.ccc","device":"phone"})",
      R"({"t":"send","id":1,"to":"u:bob","cmid":"c-7f3a","body":{"text":"hi \u00e9","n":[1,2]}})",
      R"({"t":"recv","conv":"d:alice:bob","seq":17})",
      R"({"t":"read","id":2,"conv":"g:team","seq":3})",
      R"({"t":"sync","id":2,"all":true})",
      R"({"t":"pull","id":3,"conv":"d:alice:bob","after":17,"limit":100})",
      R"({"t":"join","id":5,"conv":"g:lobby"})",
      R"({"t":"watch","users":["bob","carol"]})",
      R"({"t":"ping","id":9})",
      R"({"t":"nope","id":9})",
      R"({"t":"send","id":1,"to":"u:bob","cmid":"c-7f3a"})",
      "not json",
      users,
  };
}

TEST_CASE("command: parsing allocates nothing once the parser is warm") {
  const std::vector<std::string> frames = Frames();
  std::vector<std::string> padded;
  for (const std::string& f : frames) {
    padded.push_back(f + std::string(64, ' '));
  }
  const size_t at_start = g_news.load();
  CommandParser parser;
  REQUIRE(g_news.load() > at_start);  // the counting operator new is in use
  Command cmd;
  std::string out;
  out.reserve(1 << 16);
  // Warm up, both paths.
  for (size_t i = 0; i < frames.size(); ++i) {
    (void)parser.Parse(padded[i].data(), frames[i].size(), padded[i].size(), &cmd);
    (void)parser.Parse(frames[i].data(), frames[i].size(), frames[i].size(), &cmd);
  }
  const size_t before = g_news.load();
  size_t ok = 0;
  for (int round = 0; round < 20; ++round) {
    for (size_t i = 0; i < frames.size(); ++i) {
      ok += parser.Parse(padded[i].data(), frames[i].size(), padded[i].size(), &cmd).ok();
      ok += parser.Parse(frames[i].data(), frames[i].size(), frames[i].size(), &cmd).ok();
      out.clear();
      AppendMsg(&out, {"d:alice:bob", 17, "alice", "phone", 1, "c-7f3a", cmd.body});
    }
  }
  CHECK(g_news.load() == before);
  CHECK(ok == 20 * 2 * 10);
}

}  // namespace
}  // namespace longlink::proto
