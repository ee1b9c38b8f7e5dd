// Identifier grammar and conversation names (PROTOCOL.md sections 2 and 3).
//
// User ids, device ids, group names and cmids are 1..64 bytes of
// [A-Za-z0-9_.@-]; nothing else (no escapes, no non-ASCII, no ':'), so an id
// never needs JSON escaping and ':' can separate the parts of a name:
//   destination    u:<user> | g:<group>          (the `to` of a send)
//   conversation   d:<a>:<b> | g:<group>         (a <= b in byte order)
// Everything here is pure and allocation-free except the functions that
// return or append to a std::string; parsed parts are views into the input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace longlink::proto {

inline constexpr size_t kMaxIdLen = 64;
// "d:" + 64 + ":" + 64.
inline constexpr size_t kMaxConvLen = 2 + kMaxIdLen + 1 + kMaxIdLen;

// True when `s` is 1..64 bytes, each in [A-Za-z0-9_.@-].
bool IsValidId(std::string_view s);

enum class DestKind : uint8_t { kUser, kGroup };

struct Destination {
  DestKind kind = DestKind::kUser;
  std::string_view name;  // a valid id; a view into the parsed string
};

// Parses "u:<user>" or "g:<group>". On failure returns false and leaves
// *out unspecified.
bool ParseDestination(std::string_view s, Destination* out);

enum class ConvKind : uint8_t { kDirect, kGroup };

struct ConvId {
  ConvKind kind = ConvKind::kDirect;
  std::string_view a;  // direct: the lower user id; group: the group name
  std::string_view b;  // direct: the higher (or equal) user id; group: empty
};

// Parses "d:<a>:<b>" (both valid ids, a <= b in byte order, a == b allowed)
// or "g:<group>". Anything else, including a direct name whose ids are out
// of order, returns false and leaves *out unspecified.
bool ParseConv(std::string_view s, ConvId* out);

// The direct conversation of users `x` and `y` in either order:
// "d:<min>:<max>" by byte comparison ("d:Zed:amy", "d:alice:alice").
// REQUIRES: both are valid ids (not checked).
void AppendDirectConv(std::string* out, std::string_view x, std::string_view y);
std::string DirectConv(std::string_view x, std::string_view y);

// "g:<group>". REQUIRES: `group` is a valid id (not checked).
void AppendGroupConv(std::string* out, std::string_view group);
std::string GroupConv(std::string_view group);

}  // namespace longlink::proto
