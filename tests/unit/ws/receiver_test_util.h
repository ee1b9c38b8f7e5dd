// Helpers for the Receiver tests: a handler that records what it is given,
// a feeder that hands a stream to a fresh Receiver in chosen pieces the way
// a shard does (each piece in its own exact-size heap buffer, scribbled over
// once Consume returns, so ASan catches an over-read and a test catches a
// pointer kept into the read buffer), and a frame encoder written apart from
// ws/frame_writer.cc (byte-wise, no shared code), so that a bug shared by
// the writer and the parser cannot pass unnoticed.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "ws/frame_format.h"
#include "ws/receiver.h"

namespace longlink::ws::testing {

using Bytes = std::vector<uint8_t>;
using Key = std::array<uint8_t, 4>;

constexpr Key kRfcKey = {0x37, 0xfa, 0x21, 0x3d};  // RFC 6455 5.7

struct Event {
  enum Kind { kMessage, kPing, kPong, kClose };
  Kind kind;
  uint16_t code;  // the opcode of a message, the code of a close, else 0
  std::string data;
  bool operator==(const Event&) const = default;
};

inline Event Text(std::string s) {
  return {Event::kMessage, kText, std::move(s)};
}
inline Event Binary(std::string s) {
  return {Event::kMessage, kBinary, std::move(s)};
}
inline Event Ping(std::string s) {
  return {Event::kPing, 0, std::move(s)};
}
inline Event Pong(std::string s) {
  return {Event::kPong, 0, std::move(s)};
}
inline Event Close(uint16_t code, std::string reason) {
  return {Event::kClose, code, std::move(reason)};
}

inline std::ostream& operator<<(std::ostream& os, const Event& e) {
  static const char* kNames[] = {"message", "ping", "pong", "close"};
  os << kNames[e.kind] << "(" << e.code << ", " << e.data.size() << " bytes";
  if (e.data.size() <= 40) {
    os << " \"" << e.data << "\"";
  }
  return os << ")";
}

struct Recorder {
  size_t max = 16 << 20;
  int stop_at = -1;  // a callback returns false on this event (0-based)
  std::vector<Event> events;
  // The piece being consumed, to tell a zero-copy delivery.
  const uint8_t* piece = nullptr;
  size_t piece_len = 0;
  size_t in_place = 0;  // messages delivered pointing into the piece

  size_t max_message() const { return max; }
  bool Add(Event::Kind kind, uint16_t code, const uint8_t* data, size_t len) {
    REQUIRE(data != nullptr);
    events.push_back({kind, code, std::string(reinterpret_cast<const char*>(data), len)});
    return int(events.size()) - 1 != stop_at;
  }
  bool OnMessage(uint8_t opcode, uint8_t* data, size_t len) {
    if (len > 0 && data >= piece && data + len <= piece + piece_len) {
      ++in_place;
    }
    return Add(Event::kMessage, opcode, data, len);
  }
  bool OnPing(uint8_t* data, size_t len) { return Add(Event::kPing, 0, data, len); }
  bool OnPong(uint8_t* data, size_t len) { return Add(Event::kPong, 0, data, len); }
  bool OnClose(uint16_t code, const uint8_t* reason, size_t len) {
    return Add(Event::kClose, code, reason, len);
  }
};

struct Outcome {
  std::vector<Event> events;
  uint16_t code = Receiver::kOk;  // the first code other than kOk, if any
  size_t fed = 0;                 // bytes handed over up to that code
  size_t buffered = 0;            // receiver.buffered() at the end
  size_t in_place = 0;
};

// Feeds `stream` to a fresh Receiver in pieces of `sizes` (whatever is left
// after them goes as a last piece), stopping at the first code != kOk.
inline Outcome Feed(Role role, const Bytes& stream, const std::vector<size_t>& sizes,
                    size_t max_message = 16 << 20) {
  Receiver rx(role);
  Recorder rec;
  rec.max = max_message;
  Outcome out;
  size_t pos = 0;
  auto feed_piece = [&](size_t n) {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[n + 1]);  // +1: never a zero-size array
    std::memcpy(buf.get(), stream.data() + pos, n);
    rec.piece = buf.get();
    rec.piece_len = n;
    const uint16_t code = rx.Consume(buf.get(), n, rec);
    std::memset(buf.get(), 0xA5, n);
    pos += n;
    return code;
  };
  for (size_t i = 0; i <= sizes.size() && out.code == Receiver::kOk; ++i) {
    const size_t n =
        i < sizes.size() ? std::min(sizes[i], stream.size() - pos) : stream.size() - pos;
    if (i == sizes.size() && n == 0 && !sizes.empty()) {
      break;
    }
    out.code = feed_piece(n);
  }
  out.events = std::move(rec.events);
  out.fed = pos;
  out.buffered = rx.buffered();
  out.in_place = rec.in_place;
  return out;
}

// Checks that `stream` yields `want` and `code` fed whole, split in two at
// every point, and byte by byte. An idle receiver (kOk) must hold nothing
// once the stream ends on a frame boundary.
inline void CheckEverySplit(Role role, const Bytes& stream, const std::vector<Event>& want,
                            uint16_t code, size_t max_message = 16 << 20) {
  auto check = [&](const std::vector<size_t>& sizes, const char* how, size_t at) {
    const Outcome got = Feed(role, stream, sizes, max_message);
    INFO(how, " ", at);
    REQUIRE(got.code == code);
    REQUIRE(got.events.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      REQUIRE(got.events[i] == want[i]);
    }
    if (code == Receiver::kOk) {
      REQUIRE(got.buffered == 0);
    }
  };
  check({stream.size()}, "whole", 0);
  for (size_t i = 0; i <= stream.size(); ++i) {
    check({i}, "split at", i);
  }
  check(std::vector<size_t>(stream.size(), 1), "byte by byte", 0);
}

inline Bytes Raw(std::initializer_list<int> bytes) {
  Bytes out;
  for (int b : bytes) {
    out.push_back(uint8_t(b));
  }
  return out;
}

// A close frame's payload: the code big-endian, then the reason.
inline std::string ClosePayload(uint16_t code, std::string_view reason) {
  return std::string{char(code >> 8), char(code & 0xFF)} + std::string(reason);
}

inline Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

// A frame with first byte `b0` (FIN/RSV/opcode) and `payload`, masked with
// `key` when given. `len_bytes` forces the length encoding: 0 for 7 bits, 2
// or 8 for the extended forms, -1 for the minimal one.
inline Bytes Frame(uint8_t b0, std::string_view payload, const Key* key = nullptr,
                   int len_bytes = -1) {
  const uint64_t n = payload.size();
  if (len_bytes < 0) {
    len_bytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  }
  const uint8_t mask_bit = key != nullptr ? 0x80 : 0x00;
  Bytes out;
  out.reserve(kMaxHeaderSize + n);
  out.push_back(b0);
  if (len_bytes == 0) {
    out.push_back(uint8_t(mask_bit | n));
  } else {
    out.push_back(uint8_t(mask_bit | (len_bytes == 2 ? 126 : 127)));
    for (int i = len_bytes - 1; i >= 0; --i) {
      out.push_back(uint8_t(n >> (8 * i)));
    }
  }
  if (key != nullptr) {
    for (uint8_t k : *key) {
      out.push_back(k);
    }
  }
  for (size_t i = 0; i < payload.size(); ++i) {
    out.push_back(uint8_t(payload[i]) ^ (key != nullptr ? (*key)[i % 4] : 0));
  }
  return out;
}

// A client's frame: masked with a key that varies with the first byte.
inline Bytes Masked(uint8_t b0, std::string_view payload, int len_bytes = -1) {
  const Key key = {uint8_t(0x11 + b0), 0xC3, 0x5A, uint8_t(0x96 ^ payload.size())};
  return Frame(b0, payload, &key, len_bytes);
}

}  // namespace longlink::ws::testing
