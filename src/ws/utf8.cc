// The UTF-8 DFA behind Utf8Validator. As in Bjoern Hoehrmann's decoder, each
// byte maps to one of 12 character classes and (state, class) to the next
// state; the states below are ours, one per "what may come next", so that the
// automaton rejects at the first byte that no continuation could make valid:
// C0, C1 and F5..FF at once, ED A0 (a surrogate) at A0, E0 80 (an overlong)
// at 80, F4 90 (above U+10FFFF) at 90. Runs of ASCII between code points are
// skipped eight bytes at a time. Tables are 256 + 108 bytes, built at compile
// time from the rules written out in kTransition.
#include "ws/utf8.h"

#include <array>
#include <cstring>

namespace longlink::ws {
namespace {

// States. kAccept and kReject are the public values 0 and 1.
enum : uint8_t {
  kSAccept = Utf8Validator::kAccept,
  kSReject = Utf8Validator::kReject,
  kSTail1,  // one more 80..BF, then a boundary
  kSTail2,  // two more 80..BF
  kSE0,     // after E0: A0..BF (no overlong 3-byte forms), then kSTail1
  kSED,     // after ED: 80..9F (no surrogates), then kSTail1
  kSF0,     // after F0: 90..BF (no overlong 4-byte forms), then kSTail2
  kSF1,     // after F1..F3: 80..BF, then kSTail2
  kSF4,     // after F4: 80..8F (nothing above U+10FFFF), then kSTail2
};
constexpr size_t kNumStates = kSF4 + 1;

// Character classes.
enum : uint8_t {
  kCAscii,  // 00..7F
  kC80,     // 80..8F
  kC90,     // 90..9F
  kCA0,     // A0..BF
  kCBad,    // C0, C1, F5..FF: never in UTF-8
  kCLead2,  // C2..DF
  kCE0,     // E0
  kCLead3,  // E1..EC, EE, EF
  kCED,     // ED
  kCF0,     // F0
  kCF1,     // F1..F3
  kCF4,     // F4
};
constexpr size_t kNumClasses = kCF4 + 1;
constexpr size_t kTableSize = kNumStates * kNumClasses;

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> c{};
  for (int b = 0; b < 256; ++b) {
    uint8_t k = kCBad;
    if (b < 0x80) {
      k = kCAscii;
    } else if (b < 0x90) {
      k = kC80;
    } else if (b < 0xA0) {
      k = kC90;
    } else if (b < 0xC0) {
      k = kCA0;
    } else if (b >= 0xC2 && b <= 0xDF) {
      k = kCLead2;
    } else if (b == 0xE0) {
      k = kCE0;
    } else if (b == 0xED) {
      k = kCED;
    } else if (b >= 0xE1 && b <= 0xEF) {
      k = kCLead3;
    } else if (b == 0xF0) {
      k = kCF0;
    } else if (b >= 0xF1 && b <= 0xF3) {
      k = kCF1;
    } else if (b == 0xF4) {
      k = kCF4;
    }
    c[b] = k;
  }
  return c;
}

constexpr std::array<uint8_t, kTableSize> MakeTransitions() {
  std::array<uint8_t, kTableSize> t{};
  for (auto& s : t) {
    s = kSReject;
  }
  auto set = [&t](uint8_t state, uint8_t cls, uint8_t next) {
    t[state * kNumClasses + cls] = next;
  };
  set(kSAccept, kCAscii, kSAccept);
  set(kSAccept, kCLead2, kSTail1);
  set(kSAccept, kCE0, kSE0);
  set(kSAccept, kCLead3, kSTail2);
  set(kSAccept, kCED, kSED);
  set(kSAccept, kCF0, kSF0);
  set(kSAccept, kCF1, kSF1);
  set(kSAccept, kCF4, kSF4);
  for (uint8_t cls : {kC80, kC90, kCA0}) {
    set(kSTail1, cls, kSAccept);
    set(kSTail2, cls, kSTail1);
    set(kSF1, cls, kSTail2);
  }
  set(kSE0, kCA0, kSTail1);
  set(kSED, kC80, kSTail1);
  set(kSED, kC90, kSTail1);
  set(kSF0, kC90, kSTail2);
  set(kSF0, kCA0, kSTail2);
  set(kSF4, kC80, kSTail2);
  return t;
}

constexpr std::array<uint8_t, 256> kClass = MakeClasses();
constexpr std::array<uint8_t, kTableSize> kTransition = MakeTransitions();

constexpr uint64_t kHighBits = 0x8080808080808080ull;

}  // namespace

bool Utf8Validator::Feed(const uint8_t* data, size_t len) {
  uint8_t s = state_;
  const uint8_t* p = data;
  const uint8_t* const end = data + len;
  if (s == kSReject) {
    return false;
  }
  while (p != end) {
    if (s == kSAccept && *p < 0x80) {
      // ASCII fast path: skip whole words of ASCII, then finish byte-wise.
      while (end - p >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        if (word & kHighBits) {
          break;
        }
        p += 8;
      }
      while (p != end && *p < 0x80) {
        ++p;
      }
      if (p == end) {
        break;
      }
    }
    s = kTransition[s * kNumClasses + kClass[*p++]];
    if (s == kSReject) {
      break;
    }
  }
  state_ = s;
  return s != kSReject;
}

bool IsValidUtf8(const uint8_t* data, size_t len) {
  Utf8Validator v;
  return v.Feed(data, len) && v.AtBoundary();
}

}  // namespace longlink::ws
