// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above
// U+10FFFF), incremental so that a text message split over frames and reads
// fails on the first bad byte (Autobahn 6.x "fail fast"). A DFA in the style
// of Bjoern Hoehrmann's decoder, with an ASCII fast path eight bytes at a time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace longlink::ws {

class Utf8Validator {
 public:
  static constexpr uint8_t kAccept = 0;
  static constexpr uint8_t kReject = 1;

  // Feeds more bytes. Returns false as soon as the input cannot be valid
  // UTF-8 whatever follows; the validator then stays rejected.
  bool Feed(const uint8_t* data, size_t len);
  // True when everything fed so far ends on a code point boundary.
  bool AtBoundary() const { return state_ == kAccept; }
  void Reset() { state_ = kAccept; }
  uint8_t state() const { return state_; }

 private:
  uint8_t state_ = kAccept;
};

bool IsValidUtf8(const uint8_t* data, size_t len);

}  // namespace longlink::ws
