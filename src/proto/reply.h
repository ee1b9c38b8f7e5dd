// Server frames (PROTOCOL.md sections 2-7) appended to a caller-owned
// std::string, so a shard can build every frame into one reused buffer.
//
// Members come in the order the protocol's examples show, `t` first and then
// `id` when there is one. Integers are formatted with std::to_chars. Strings
// are JSON-escaped (quote, backslash, every control character); bytes >= 0x80
// are copied as they are, so the caller passes valid UTF-8: ids are ASCII by
// grammar, strings from a parsed frame were validated by simdjson, and error
// messages are our own literals. A message `body` is raw JSON text that was
// validated when it was received and is inserted verbatim, never
// re-serialized.
//
// Lists (page, sync, presence) are built in three steps, Begin / Add... /
// End, so the caller can stream items out of storage without collecting them;
// Add decides on the separating comma by looking at the last byte of `out`.
// REQUIRES for every Add and End: the matching Begin was the last thing
// appended to `out`, or an Add of the same list.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/errors.h"

namespace longlink::proto {

// A request's `id`, echoed in its reply when present.
using FrameId = std::optional<uint64_t>;

// "s" with JSON escapes, quotes included.
void AppendJsonString(std::string* out, std::string_view s);
void AppendUint(std::string* out, uint64_t v);
void AppendInt(std::string* out, int64_t v);

// {"t":"welcome","id":N,"user":..,"device":..,"session":..,"heartbeat_ms":N,"max_body":N,"ts":N}
struct Welcome {
  std::string_view user;
  std::string_view device;
  std::string_view session;
  uint64_t heartbeat_ms = 0;
  uint64_t max_body = 0;
  int64_t ts = 0;
};
void AppendWelcome(std::string* out, FrameId id, const Welcome& w);

// {"t":"ack","id":N,"conv":..,"seq":N,"ts":N,"cmid":..[,"dup":true]}
// For an ephemeral send, seq is 0.
struct Ack {
  std::string_view conv;
  uint64_t seq = 0;
  int64_t ts = 0;
  std::string_view cmid;
  bool dup = false;
};
void AppendAck(std::string* out, FrameId id, const Ack& a);

// One message, as pushed and as listed in a page.
struct Message {
  std::string_view conv;
  uint64_t seq = 0;
  std::string_view from;
  std::string_view device;
  int64_t ts = 0;
  std::string_view cmid;
  std::string_view body;  // raw JSON text, inserted verbatim
};
// {"t":"msg","conv":..,"seq":N,"from":..,"device":..,"ts":N,"cmid":..,"body":<raw>}
void AppendMsg(std::string* out, const Message& m);
// {"t":"msg","conv":..,"ephemeral":true,"from":..,"device":..,"ts":N,"cmid":..,"body":<raw>}
// (m.seq is not used.)
void AppendEphemeralMsg(std::string* out, const Message& m);

// {"t":"page","id":N,"conv":..,"msgs":[{"conv":..,"seq":N,...,"body":..},...],"more":B[,"first":N]}
// Each item has the members of the msg push except `t`. `first` (the oldest
// seq still kept) is given only when retention dropped something below it.
void BeginPage(std::string* out, FrameId id, std::string_view conv);
void AddPageItem(std::string* out, const Message& m);
void EndPage(std::string* out, bool more, std::optional<uint64_t> first);

// {"t":"sync","id":N,"convs":[{"conv":..,"last":N,"recv":N,"read":N},...]}
struct SyncEntry {
  std::string_view conv;
  uint64_t last = 0;
  uint64_t recv = 0;
  uint64_t read = 0;
};
void BeginSync(std::string* out, FrameId id);
void AddSyncEntry(std::string* out, const SyncEntry& e);
void EndSync(std::string* out);

// {"t":"error","id":N,"code":"..","msg":".."}; no id when `id` is empty.
void AppendError(std::string* out, FrameId id, ErrorCode code, std::string_view msg);
// {"t":"error","id":N,"code":"rate_limited","msg":"rate limit exceeded","retry_ms":N}
void AppendRateLimited(std::string* out, FrameId id, uint64_t retry_ms);

// {"t":"ok","id":N}
void AppendOk(std::string* out, FrameId id);
// {"t":"pong","id":N,"ts":N}
void AppendPong(std::string* out, FrameId id, int64_t ts);

enum class ReceiptKind : uint8_t { kDelivered, kRead };
// {"t":"receipt","conv":..,"seq":N,"user":..,"kind":"delivered"|"read"}
void AppendReceipt(std::string* out, std::string_view conv, uint64_t seq, std::string_view user,
                   ReceiptKind kind);

// {"t":"presence","id":N,"users":{"bob":{"online":true,"devices":2},
//   "carol":{"online":false,"last_seen":N},"dave":{"online":false}}}
// A user never seen has no last_seen. The caller removes duplicate users.
void BeginPresence(std::string* out, FrameId id);
void AddPresenceOnline(std::string* out, std::string_view user, uint64_t devices);
void AddPresenceOffline(std::string* out, std::string_view user, std::optional<int64_t> last_seen);
void EndPresence(std::string* out);

// {"t":"presence","user":..,"online":B,"ts":N}
void AppendPresencePush(std::string* out, std::string_view user, bool online, int64_t ts);

}  // namespace longlink::proto
