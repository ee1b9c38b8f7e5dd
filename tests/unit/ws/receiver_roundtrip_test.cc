// Round-trip property: random messages (text and binary, up to 200 KB,
// randomly fragmented, with pings and pongs between the fragments), written
// as a client would with WriteHeader and Mask into one stream, come out of a
// server-role Receiver equal and in order whatever the sizes of the reads.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "ws/frame_format.h"
#include "ws/frame_writer.h"
#include "ws/receiver.h"

#include "receiver_test_util.h"

namespace longlink::ws {
namespace {

using testing::Bytes;
using testing::Event;

class StreamBuilder {
 public:
  explicit StreamBuilder(uint64_t seed) : rng_(seed) {}

  // Appends one client frame, masking the payload with a fresh key, in
  // pieces so that Mask's phase is exercised too.
  void AddFrame(uint8_t opcode, bool fin, const std::string& payload) {
    uint8_t key[4];
    for (uint8_t& k : key) {
      k = uint8_t(rng_());
    }
    uint8_t header[kMaxHeaderSize];
    const size_t n = WriteHeader(header, opcode, fin, payload.size(), key);
    stream_.insert(stream_.end(), header, header + n);
    const size_t start = stream_.size();
    stream_.insert(stream_.end(), payload.begin(), payload.end());
    size_t phase = 0;
    for (size_t pos = 0; pos < payload.size();) {
      const size_t piece = std::min(payload.size() - pos, size_t(1 + rng_() % 300));
      phase = Mask(stream_.data() + start + pos, piece, key, phase);
      pos += piece;
    }
  }

  void MaybeControl() {
    if (rng_() % 3 != 0) {
      return;
    }
    const std::string payload = Random(rng_() % (kMaxControlPayload + 1), false);
    const bool ping = rng_() % 2 == 0;
    AddFrame(ping ? kPing : kPong, true, payload);
    want_.push_back(ping ? testing::Ping(payload) : testing::Pong(payload));
  }

  void AddMessage() {
    const bool text = rng_() % 2 == 0;
    size_t size = rng_() % 200;
    if (rng_() % 4 == 0) {
      size = rng_() % 20000;
    } else if (rng_() % 8 == 0) {
      size = rng_() % 200001;
    }
    const std::string body = Random(size, text);
    // Fragments at random points, which may cut a code point in two.
    std::vector<size_t> cuts = {0, body.size()};
    for (int k = int(rng_() % 5); k > 0; --k) {
      cuts.push_back(body.empty() ? 0 : rng_() % body.size());
    }
    std::sort(cuts.begin(), cuts.end());
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
      MaybeControl();
      const uint8_t op = i == 0 ? (text ? kText : kBinary) : kContinuation;
      AddFrame(op, i + 2 == cuts.size(), body.substr(cuts[i], cuts[i + 1] - cuts[i]));
    }
    want_.push_back(text ? testing::Text(body) : testing::Binary(body));
  }

  // `n` bytes of anything, or about `n` (up to 3 more) of valid UTF-8 text.
  std::string Random(size_t n, bool text) {
    std::string s;
    while (s.size() < n) {
      if (!text) {
        s += char(rng_());
        continue;
      }
      switch (rng_() % 6) {
        case 0:
          s += "\xC3\xA9";  // é
          break;
        case 1:
          s += "\xE2\x82\xAC";  // €
          break;
        case 2:
          s += "\xF0\x9F\x98\x80";  // 😀
          break;
        default:
          s += char('a' + rng_() % 26);
      }
    }
    return s;
  }

  // Read sizes covering the stream: mostly small, sometimes large.
  std::vector<size_t> Reads() {
    std::vector<size_t> sizes;
    for (size_t total = 0; total < stream_.size();) {
      size_t n = 1 + rng_() % 16;
      if (rng_() % 3 == 0) {
        n = 1 + rng_() % 70000;
      }
      sizes.push_back(n);
      total += n;
    }
    return sizes;
  }

  const Bytes& stream() const { return stream_; }
  const std::vector<Event>& want() const { return want_; }

 private:
  std::mt19937_64 rng_;
  Bytes stream_;
  std::vector<Event> want_;
};

TEST_CASE("receiver: random fragmented messages with pings come out equal and in order") {
  size_t messages = 0;
  size_t bytes = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    StreamBuilder b(seed);
    const int count = 1 + int(seed % 12);
    for (int i = 0; i < count; ++i) {
      b.AddMessage();
    }
    b.MaybeControl();
    const testing::Outcome got = testing::Feed(Role::kServer, b.stream(), b.Reads(), 256 << 10);
    INFO("seed ", seed);
    REQUIRE(got.code == Receiver::kOk);
    REQUIRE(got.events.size() == b.want().size());
    for (size_t i = 0; i < got.events.size(); ++i) {
      INFO("event ", i);
      REQUIRE(got.events[i] == b.want()[i]);
    }
    REQUIRE(got.buffered == 0);
    messages += got.events.size();
    bytes += b.stream().size();
  }
  MESSAGE(messages, " messages, pings and pongs in ", bytes, " bytes");
}

}  // namespace
}  // namespace longlink::ws
