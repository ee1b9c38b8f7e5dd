// Identifier grammar and conversation names; see ids.h. The byte-class test is
// one table lookup per byte, so validating a 64-byte id costs a few ns.
#include "proto/ids.h"

#include <array>
#include <cstdint>
#include <utility>

namespace longlink::proto {
namespace {

constexpr std::array<bool, 256> MakeIdTable() {
  std::array<bool, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) {
    t[c] = true;
  }
  for (int c = 'A'; c <= 'Z'; ++c) {
    t[c] = true;
  }
  for (int c = '0'; c <= '9'; ++c) {
    t[c] = true;
  }
  t['_'] = t['.'] = t['@'] = t['-'] = true;
  return t;
}

constexpr std::array<bool, 256> kIdByte = MakeIdTable();

}  // namespace

bool IsValidId(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdLen) {
    return false;
  }
  for (char c : s) {
    if (!kIdByte[static_cast<uint8_t>(c)]) {
      return false;
    }
  }
  return true;
}

bool ParseDestination(std::string_view s, Destination* out) {
  if (s.size() < 3 || s[1] != ':') {
    return false;
  }
  if (s[0] == 'u') {
    out->kind = DestKind::kUser;
  } else if (s[0] == 'g') {
    out->kind = DestKind::kGroup;
  } else {
    return false;
  }
  out->name = s.substr(2);
  return IsValidId(out->name);
}

bool ParseConv(std::string_view s, ConvId* out) {
  if (s.size() < 3 || s[1] != ':') {
    return false;
  }
  if (s[0] == 'g') {
    out->kind = ConvKind::kGroup;
    out->a = s.substr(2);
    out->b = {};
    return IsValidId(out->a);
  }
  if (s[0] != 'd') {
    return false;
  }
  const std::string_view rest = s.substr(2);
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  out->kind = ConvKind::kDirect;
  out->a = rest.substr(0, colon);
  out->b = rest.substr(colon + 1);
  // std::string_view compares as unsigned bytes (char_traits<char>::compare
  // is memcmp), which is the byte order the protocol fixes.
  return IsValidId(out->a) && IsValidId(out->b) && out->a <= out->b;
}

void AppendDirectConv(std::string* out, std::string_view x, std::string_view y) {
  if (y < x) {
    std::swap(x, y);
  }
  out->append("d:", 2);
  out->append(x);
  out->push_back(':');
  out->append(y);
}

std::string DirectConv(std::string_view x, std::string_view y) {
  std::string s;
  s.reserve(3 + x.size() + y.size());
  AppendDirectConv(&s, x, y);
  return s;
}

void AppendGroupConv(std::string* out, std::string_view group) {
  out->append("g:", 2);
  out->append(group);
}

std::string GroupConv(std::string_view group) {
  std::string s;
  s.reserve(2 + group.size());
  AppendGroupConv(&s, group);
  return s;
}

}  // namespace longlink::proto
