// Cheap field access for the server frames imload reads, and a formatter for
// the frames it writes. No JSON parser: the server writes every frame as
// `{"t":"<type>",...}` with members in a fixed order (src/proto/reply.cc), so
// the type is a prefix test and a number is the digits after `"name":` found
// by memmem. A field name that could also occur inside a message body (the
// load generator controls the bodies: `{"t0":<ns>,"pad":"xxx"}`) is searched
// from the right place: `"seq":` comes before `"body":` in a push, `"t0":`
// only occurs in the body.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace longlink::imload {

inline bool HasPrefix(const uint8_t* p, size_t n, std::string_view prefix) {
  return n >= prefix.size() && std::memcmp(p, prefix.data(), prefix.size()) == 0;
}

// Parses the unsigned integer right after the first `key` in [p, p + n);
// false if `key` is absent or not followed by a digit.
inline bool ScanUint(const uint8_t* p, size_t n, std::string_view key, uint64_t* out) {
  const void* hit = memmem(p, n, key.data(), key.size());
  if (hit == nullptr)
    return false;
  const char* s = static_cast<const char*>(hit) + key.size();
  const char* end = reinterpret_cast<const char*>(p) + n;
  auto r = std::from_chars(s, end, *out);
  return r.ec == std::errc() && r.ptr != s;
}

inline bool Contains(const uint8_t* p, size_t n, std::string_view what) {
  return memmem(p, n, what.data(), what.size()) != nullptr;
}

// Formats a frame into a fixed buffer. Overflow is a programming error (the
// callers size the buffer for their largest frame) and stops the appending.
class FrameText {
 public:
  FrameText(char* buf, size_t cap) : buf_(buf), cap_(cap) {}

  FrameText& Add(std::string_view s) {
    if (len_ + s.size() > cap_) {
      overflow_ = true;
      return *this;
    }
    std::memcpy(buf_ + len_, s.data(), s.size());
    len_ += s.size();
    return *this;
  }
  FrameText& Add(uint64_t v) {
    auto r = std::to_chars(buf_ + len_, buf_ + cap_, v);
    if (r.ec != std::errc()) {
      overflow_ = true;
      return *this;
    }
    len_ = size_t(r.ptr - buf_);
    return *this;
  }
  // `n` copies of `c`.
  FrameText& Fill(char c, size_t n) {
    if (len_ + n > cap_) {
      overflow_ = true;
      return *this;
    }
    std::memset(buf_ + len_, c, n);
    len_ += n;
    return *this;
  }

  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(buf_); }
  size_t size() const { return len_; }
  bool overflow() const { return overflow_; }

 private:
  char* buf_;
  size_t cap_;
  size_t len_ = 0;
  bool overflow_ = false;
};

// Appends a message body of about `size` bytes carrying the send time:
// {"t0":<ns>,"pad":"xxx..."} (never shorter than the body without padding).
inline void AddBody(FrameText* f, uint64_t t0_ns, size_t size) {
  size_t start = f->size();
  f->Add("{\"t0\":").Add(t0_ns).Add(",\"pad\":\"");
  size_t used = f->size() - start + 2;  // plus the closing `"}`
  f->Fill('x', size > used ? size - used : 0).Add("\"}");
}

}  // namespace longlink::imload
