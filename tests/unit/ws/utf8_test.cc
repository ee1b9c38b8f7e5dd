// Utf8Validator: the Markus Kuhn stress-test and Autobahn 6.x cases by name
// (valid multi-byte, boundaries, overlongs, surrogates, above U+10FFFF), the
// exact byte at which validation fails, and a comparison against a reference
// built from the definition (the set of encodings of every scalar value),
// exhaustive over short sequences and random over long ones fed in pieces.
#include "ws/utf8.h"

#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <doctest/doctest.h>

namespace longlink::ws {
namespace {

const uint8_t* U(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

bool Valid(std::string_view s) {
  return IsValidUtf8(U(s), s.size());
}

// Index of the byte at which a byte-by-byte feed fails; -1 if none does.
int FailIndex(std::string_view s) {
  Utf8Validator v;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!v.Feed(U(s) + i, 1)) {
      return int(i);
    }
  }
  return -1;
}

// The reference: UTF-8 as RFC 3629 defines it, the encodings of U+0000..
// U+10FFFF minus the surrogates, with no decoding rules of its own.
class Reference {
 public:
  Reference() {
    complete_.reserve(1 << 21);
    for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) {
        continue;
      }
      const std::string e = Encode(cp);
      complete_.insert(Key(e));
      for (size_t n = 1; n < e.size(); ++n) {
        prefixes_.insert(Key(e.substr(0, n)));
      }
    }
  }
  static std::string Encode(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s += char(cp);
    } else if (cp < 0x800) {
      s += char(0xC0 | cp >> 6);
      s += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += char(0xE0 | cp >> 12);
      s += char(0x80 | ((cp >> 6) & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    } else {
      s += char(0xF0 | cp >> 18);
      s += char(0x80 | ((cp >> 12) & 0x3F));
      s += char(0x80 | ((cp >> 6) & 0x3F));
      s += char(0x80 | (cp & 0x3F));
    }
    return s;
  }
  // Index of the first byte after which no continuation can be valid, or -1;
  // *complete tells whether the input ends on a boundary.
  int FailIndex(std::string_view s, bool* complete) const {
    std::string tail;
    for (size_t i = 0; i < s.size(); ++i) {
      tail += s[i];
      if (tail.size() <= 4 && complete_.count(Key(tail))) {
        tail.clear();
      } else if (tail.size() > 3 || !prefixes_.count(Key(tail))) {
        *complete = false;
        return int(i);
      }
    }
    *complete = tail.empty();
    return -1;
  }

 private:
  // Up to 4 bytes and their count, packed.
  static uint64_t Key(std::string_view s) {
    uint64_t k = 0;
    for (char c : s) {
      k = k << 8 | uint8_t(c);
    }
    return k | uint64_t(s.size()) << 40;
  }
  std::unordered_set<uint64_t> complete_;
  std::unordered_set<uint64_t> prefixes_;
};

const Reference& Ref() {
  static const Reference ref;
  return ref;
}

TEST_CASE("utf8: accepts ASCII, empty input and Kuhn's kosme") {
  CHECK(Valid(""));
  CHECK(Valid("Hello, world! 0123456789 {\"t\":\"send\"}"));
  CHECK(Valid(std::string(1000, 'a')));
  CHECK(Valid(std::string("\0\x7F", 2)));
  CHECK(Valid("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"));  // κόσμε
}

TEST_CASE("utf8: accepts the first and last code point of every length") {
  CHECK(Valid("\xC2\x80"));                                // U+0080
  CHECK(Valid("\xDF\xBF"));                                // U+07FF
  CHECK(Valid("\xE0\xA0\x80"));                            // U+0800
  CHECK(Valid("\xEF\xBF\xBF"));                            // U+FFFF (a noncharacter, still valid)
  CHECK(Valid("\xF0\x90\x80\x80"));                        // U+10000
  CHECK(Valid("\xF4\x8F\xBF\xBF"));                        // U+10FFFF
  CHECK(Valid("\xED\x9F\xBF"));                            // U+D7FF, just below the surrogates
  CHECK(Valid("\xEE\x80\x80"));                            // U+E000, just above them
  CHECK(Valid("\xEF\xBF\xBD"));                            // U+FFFD
  CHECK(Valid("\xF0\x9F\x98\x80 \xE2\x82\xAC \xC3\xA9"));  // 😀 € é
}

TEST_CASE("utf8: rejects overlong encodings at their second byte") {
  CHECK(FailIndex("\xC0\xAF") == 0);              // "/" in 2 bytes: C0 is never valid
  CHECK(FailIndex("\xE0\x80\xAF") == 1);          // "/" in 3 bytes
  CHECK(FailIndex("\xF0\x80\x80\xAF") == 1);      // "/" in 4 bytes
  CHECK(FailIndex("\xC1\xBF") == 0);              // U+007F in 2 bytes
  CHECK(FailIndex("\xE0\x9F\xBF") == 1);          // U+07FF in 3 bytes
  CHECK(FailIndex("\xF0\x8F\xBF\xBF") == 1);      // U+FFFF in 4 bytes
  CHECK(FailIndex("\xC0\x80") == 0);              // NUL in 2 bytes
  CHECK(FailIndex("\xF8\x80\x80\x80\xAF") == 0);  // 5-byte forms
  CHECK(FailIndex("\xFC\x80\x80\x80\x80\xAF") == 0);
}

TEST_CASE("utf8: rejects UTF-16 surrogates at their second byte") {
  for (std::string_view s : {"\xED\xA0\x80", "\xED\xAD\xBF", "\xED\xAE\x80", "\xED\xAF\xBF",
                             "\xED\xB0\x80", "\xED\xBE\x80", "\xED\xBF\xBF"}) {
    CHECK(FailIndex(s) == 1);
    CHECK_FALSE(Valid(s));
  }
  CHECK(FailIndex("\xED\xA0\x80\xED\xB0\x80") == 1);  // a paired surrogate too
  CHECK(FailIndex("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80"
                  "edited") == 12);
}

TEST_CASE("utf8: rejects code points above U+10FFFF as soon as they are certain") {
  CHECK(FailIndex("\xF4\x90\x80\x80") == 1);  // U+110000
  CHECK(FailIndex("\xF5\x80\x80\x80") == 0);
  CHECK(FailIndex("\xF7\xBF\xBF\xBF") == 0);
  for (int b = 0xF5; b <= 0xFF; ++b) {
    const char c = char(b);
    CHECK(FailIndex(std::string_view(&c, 1)) == 0);
  }
}

TEST_CASE("utf8: rejects stray continuation bytes and cut sequences") {
  CHECK(FailIndex("\x80") == 0);
  CHECK(FailIndex("ab\xBF") == 2);
  CHECK(FailIndex("\xC3\xA9\xA9") == 2);
  CHECK(FailIndex("\xE2\x82 ") == 2);  // a 3-byte sequence cut by a space
  CHECK(FailIndex("\xF0\x9F\x98"
                  "a") == 3);
  // A cut at the end is not a failure yet, only not a boundary.
  Utf8Validator v;
  CHECK(v.Feed(U("\xE2\x82"), 2));
  CHECK_FALSE(v.AtBoundary());
  CHECK_FALSE(Valid("\xE2\x82"));
  CHECK(v.Feed(U("\xAC"), 1));
  CHECK(v.AtBoundary());
}

TEST_CASE("utf8: stays rejected after a failure and resets") {
  Utf8Validator v;
  CHECK_FALSE(v.Feed(U("\xFF"), 1));
  CHECK(v.state() == Utf8Validator::kReject);
  CHECK_FALSE(v.Feed(U("abc"), 3));
  v.Reset();
  CHECK(v.Feed(U("abc"), 3));
  CHECK(v.AtBoundary());
}

TEST_CASE("utf8: agrees with the reference on every sequence of up to 4 boundary bytes") {
  // Every byte of one and two bytes; for longer sequences, the bytes at each
  // class boundary of the automaton.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const std::string s = {char(a), char(b)};
      bool complete;
      const int want = Ref().FailIndex(s, &complete);
      REQUIRE(FailIndex(s) == want);
      REQUIRE(Valid(s) == (want < 0 && complete));
    }
  }
  const std::vector<uint8_t> edges = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                      0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
                                      0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
  for (uint8_t a : edges) {
    for (uint8_t b : edges) {
      for (uint8_t c : edges) {
        for (uint8_t d : edges) {
          const std::string s = {char(a), char(b), char(c), char(d)};
          bool complete;
          const int want = Ref().FailIndex(s, &complete);
          REQUIRE(FailIndex(s) == want);
          REQUIRE(Valid(s) == (want < 0 && complete));
        }
      }
    }
  }
}

TEST_CASE("utf8: agrees with the reference on random text fed in random pieces") {
  std::mt19937_64 rng(20240601);
  for (int round = 0; round < 3000; ++round) {
    // Mostly valid text with ASCII runs of every length (the fast path and
    // its tail), with an occasional random byte.
    std::string s;
    const int parts = int(rng() % 12);
    for (int p = 0; p < parts; ++p) {
      switch (rng() % 4) {
        case 0:
          s += std::string(rng() % 20, char('a' + rng() % 26));
          break;
        case 1: {
          uint32_t cp = uint32_t(rng() % 0x110000);
          if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD;
          }
          s += Reference::Encode(cp);
          break;
        }
        case 2:
          s += Reference::Encode(uint32_t(0x80 + rng() % 0x780));
          break;
        default:
          if (rng() % 4 == 0) {
            s += char(rng());
          }
      }
    }
    bool complete;
    const int want = Ref().FailIndex(s, &complete);
    INFO("round ", round);
    REQUIRE(FailIndex(s) == want);
    REQUIRE(Valid(s) == (want < 0 && complete));
    // In random pieces: Feed fails exactly on the piece holding byte `want`.
    Utf8Validator v;
    size_t pos = 0;
    bool ok = true;
    while (pos < s.size() && ok) {
      const size_t n = std::min(s.size() - pos, size_t(rng() % 17));
      ok = v.Feed(U(s) + pos, n);
      if (!ok) {
        REQUIRE(want >= int(pos));
        REQUIRE(want < int(pos + n));
      }
      pos += n;
    }
    if (ok) {
      REQUIRE(want < 0);
      REQUIRE(v.AtBoundary() == complete);
    }
  }
}

}  // namespace
}  // namespace longlink::ws
