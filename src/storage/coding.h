// Varints and length-prefixed strings for record payloads (record_format.h).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace longlink::storage {

inline void PutVarint(std::string* out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = char(v | 0x80);
    v >>= 7;
  }
  buf[n++] = char(v);
  out->append(buf, n);
}

inline void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

inline void PutFixed32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }  // little endian hosts
inline uint32_t GetFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// A cursor over a payload; every Get fails (returns false) past the end.
class Reader {
 public:
  explicit Reader(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}
  bool Varint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift <= 63 && p_ < end_; shift += 7) {
      uint8_t b = uint8_t(*p_++);
      r |= uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool String(std::string_view* s) {
    uint64_t n;
    if (!Varint(&n) || n > uint64_t(end_ - p_)) return false;
    *s = std::string_view(p_, size_t(n));
    p_ += n;
    return true;
  }
  bool Byte(uint8_t* b) {
    if (p_ >= end_) return false;
    *b = uint8_t(*p_++);
    return true;
  }
  bool done() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace longlink::storage
