// Client frames (PROTOCOL.md sections 2-7) parsed into a Command.
//
// A CommandParser belongs to one shard and is reused for every frame it reads,
// so that parsing allocates nothing in steady state: simdjson's On-Demand
// parser, its string buffer, the padded copy buffer and the `users` list all
// keep their capacity between frames. No exceptions: simdjson's error codes
// are turned into ErrorCode + a static message.
//
// What a successful Parse guarantees (everything the protocol says about the
// shape of a frame; what needs state, such as membership, is the caller's):
//   * the frame is one JSON object, valid RFC 8259 JSON throughout (unknown
//     members and `body` included), nested at most kMaxDepth deep, with
//     nothing after it but whitespace;
//   * `t` is one of the eleven client types; `id`, if present, is an integer
//     in 0..2^53;
//   * the members of that type are present when required and of the right
//     type and grammar (see Command). Unknown members are ignored.
// Member names and string values are unescaped as JSON says ("\u0061lice" is
// "alice"); an id can never contain an escape *after* unescaping, since `\`
// and control characters are outside the grammar. When a member appears twice
// the last one counts (as JavaScript's JSON.parse). JSON `null` is a value,
// never the same as leaving a member out: it is the wrong type for every
// member except `body`.
//
// Lifetime: every string_view in a Command (and the `users` span) points into
// the parser (unescaped strings), into the input (`body`) or into the parser's
// padded copy of the input, and is valid until the next Parse on the same
// parser, provided the input buffer is not changed or freed meanwhile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "proto/errors.h"
#include "proto/ids.h"

namespace longlink::proto {

enum class CommandType : uint8_t {
  kHello,
  kSend,
  kRecv,
  kRead,
  kSync,
  kPull,
  kJoin,
  kLeave,
  kPresence,
  kWatch,
  kPing,
};

// The wire name of `type` ("hello", ...).
const char* CommandTypeName(CommandType type);

inline constexpr uint64_t kMaxFrameId = uint64_t{1} << 53;  // inclusive
inline constexpr size_t kMaxUsers = 1000;                   // presence/watch
inline constexpr uint32_t kDefaultPullLimit = 100;
inline constexpr uint32_t kMaxPullLimit = 1000;
// Nesting depth of a frame, the frame object itself being depth 1. Deeper
// frames are bad_request; this also bounds the parser's recursion (a few
// hundred bytes of stack per level).
inline constexpr int kMaxDepth = 128;

// The outcome of Parse or CheckHello: kOk, or a code and a short static
// message for the `msg` member of the error frame.
struct ParseStatus {
  ErrorCode code = ErrorCode::kOk;
  const char* msg = "";  // never null; a string literal
  // The input is not one JSON object (not JSON at all, or another JSON
  // value): POST /send answers 400 rather than an error frame.
  bool not_object = false;
  // A send refused only for its `to` or its `body` (too long), with a valid
  // `cmid`, not ephemeral: a repeat of a stored cmid is answered with the
  // first ack whatever `to` and `body` it carries (section 4), so the cmid
  // is looked up before this error is answered. Command::cmid is set.
  bool unless_dup = false;

  bool ok() const { return code == ErrorCode::kOk; }
};

// How a hello member was given.
enum class MemberState : uint8_t {
  kAbsent,
  kValid,    // see HelloArgs for what valid means per member
  kInvalid,  // present but of the wrong type or outside its grammar
};

// The members of a hello, as given. Parse does not judge them, because the
// answer depends on the auth mode (a bad `user` is unauthorized under
// --auth none and ignored under --auth jwt) and on whether the session
// already has a hello: the caller uses CheckHello, then verifies the token.
struct HelloArgs {
  MemberState v = MemberState::kAbsent;       // kValid: exactly the integer 1
  MemberState token = MemberState::kAbsent;   // kValid: any string
  std::string_view token_value;               // when kValid
  MemberState user = MemberState::kAbsent;    // kValid: a string in the id grammar
  std::string_view user_value;                // when kValid
  MemberState device = MemberState::kAbsent;  // kValid: a string in the id grammar
  std::string_view device_value = "default";  // when kValid, or "default" when kAbsent
};

// Which member of a hello names the user.
enum class HelloAuth : uint8_t {
  kToken,     // --auth jwt: `token` must be a string (the caller verifies it); `user` ignored
  kUserName,  // --auth none: `user` must be a valid id; `token` ignored
};

// Judges a hello's members, in this order: `v` absent or not 1, then an
// invalid `device` -> bad_request; then a missing or invalid user (token not
// a string under kToken, `user` not a valid id under kUserName) ->
// unauthorized. (Both are followed by close 4001, section 2.) A kOk answer
// under kToken still needs the token verified.
ParseStatus CheckHello(const HelloArgs& hello, HelloAuth auth);

// One parsed client frame. Only the members of `type` are meaningful; the
// others keep their defaults.
struct Command {
  CommandType type = CommandType::kPing;
  // The request id. After a failed Parse, has_id says whether the error
  // reply carries `id`: it is false when the frame is not valid JSON or the
  // id itself is bad (section 1.1), true when only something else is wrong.
  bool has_id = false;
  uint64_t id = 0;

  HelloArgs hello;  // kHello

  // kSend: `to`, `cmid` and `body` are required.
  Destination to;
  std::string_view cmid;
  // The raw JSON text of `body` exactly as sent, from its first byte to its
  // last (no surrounding whitespace; whitespace inside is kept), validated.
  // Insert it verbatim into pushes; never re-serialize it.
  std::string_view body;
  bool ephemeral = false;

  // kRecv, kRead, kPull (any conversation) and kJoin, kLeave (a group).
  std::string_view conv;  // the name as sent, e.g. "d:alice:bob"
  ConvId conv_id;         // its parts (views into `conv`)

  uint64_t seq = 0;  // kRecv, kRead. Any non-negative integer; saturates at UINT64_MAX.

  // kPull. At most one of after/before is present. Saturating like seq.
  bool has_after = false;
  uint64_t after = 0;
  bool has_before = false;
  uint64_t before = 0;
  uint32_t limit = kDefaultPullLimit;  // any integer given, clamped to 1..kMaxPullLimit

  bool all = false;  // kSync

  // kPresence, kWatch: 0..kMaxUsers valid ids, in the order sent, duplicates kept.
  std::span<const std::string_view> users;
};

class CommandParser {
 public:
  // `max_body`: a send whose body text is longer is answered too_large
  // (after every bad_request check has passed). Default: unlimited.
  explicit CommandParser(size_t max_body = SIZE_MAX);
  ~CommandParser();
  CommandParser(const CommandParser&) = delete;
  CommandParser& operator=(const CommandParser&) = delete;

  void set_max_body(size_t max_body) { max_body_ = max_body; }

  // The slack past a frame that Parse reads without copying (simdjson's).
  static constexpr size_t kPadding = 64;

  // Parses the frame data[0, len) into *out (which is reset first).
  // `capacity` is how many bytes from `data` may be read (capacity >= len);
  // simdjson reads up to SIMDJSON_PADDING (64) bytes past the end, so when
  // capacity - len is less than that, the frame is first copied into a
  // padded buffer owned by the parser (a memcpy). The bytes between len and
  // capacity are never written. Buffers grow geometrically and are kept for
  // frames up to 1 MiB, so a shard that sees only such frames stops
  // allocating; after a bigger frame, the next smaller one gives the excess
  // back (one allocation) rather than pinning ~6 bytes per byte of it.
  // Returns kOk, or bad_request / too_large with a message that names the
  // offending member; kInternal only if memory for a larger frame could not
  // be allocated.
  ParseStatus Parse(const char* data, size_t len, size_t capacity, Command* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  size_t max_body_;
};

}  // namespace longlink::proto
