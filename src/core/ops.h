// The messages shards send each other (net::ShardMsg kinds). One Op carries
// a client or API request along its route: from the connection's shard (C)
// to the owner of the acting user (U: dedup, device registry, the user's
// list of conversations) and on to the owner of the conversation (A: seq,
// storage, members, cursors, fan-out). Every request of a connection follows
// C -> U -> A through FIFO mailboxes, so an owner sees a connection's requests
// in the order they were sent ("a sync after a recv sees the moved cursor").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/out_queue.h"
#include "net/shard.h"
#include "core/types.h"

namespace longlink::core {

enum MsgKind : int {
  kUserOp = 1,    // C -> U: a request, in the connection's order
  kConvOp,        // U -> A (or C -> A for admin and history)
  kDedupRecord,   // A -> U: the ack a cmid got (or that it failed)
  kConvIndex,     // A -> U: a conversation joins or leaves the user's list
  kSyncQuery,     // U -> A: cursors and last seqs of some conversations
  kSyncPart,      // A -> U: the answer
  kRegister,      // C -> U: a session said hello
  kUnregister,    // C -> U: a session ended
  kSessionUp,     // U -> every shard: the replicated session table changes
  kSessionDown,   // U -> every shard
  kKick,          // U -> C: close a replaced session (4009)
  kReply,         // -> C: bytes for one connection
  kPush,          // A -> C: one shared frame for some connections
};

enum class OpType : uint8_t {
  kSend,
  kRecv,
  kRead,
  kPull,
  kSync,
  kJoin,
  kLeave,
  kPublish,       // POST /api/publish
  kGroupCreate,   // POST /api/groups
  kGroupMembers,  // POST /api/groups/<g>/members
  kGroupGet,      // GET /api/groups/<g>
  kGroupDelete,   // DELETE /api/groups/<g>
  kHistory,       // GET /api/history
};

struct Op : net::ShardMsg {
  OpType type = OpType::kSend;
  Origin origin;
  std::string user;    // the acting user (publish: `from`)
  std::string device;  // publish: "api"
  std::string conv;    // the conversation ("d:a:b" or "g:name")
  // send / publish
  std::string cmid;
  std::string body;  // raw JSON text
  bool ephemeral = false;
  // A send refused for its `to` or `body` (proto::ParseStatus::unless_dup):
  // answered with this error (a proto::ErrorCode) unless its cmid is a repeat.
  int refused = 0;
  const char* refused_msg = "";
  // recv / read / pull
  uint64_t seq = 0;
  bool has_after = false, has_before = false;
  uint64_t after = 0, before = 0;
  uint32_t limit = 100;
  bool all = false;  // sync
  // group admin
  std::vector<std::string> add, remove;
  bool open = false;
  // filled on the way
  std::string reply;  // a group change's answer, sent once durable
  int64_t ts = 0;
  uint64_t created_us = 0;  // for the send->ack latency histogram
};

struct DedupRecord : net::ShardMsg {
  std::string user, cmid, conv;
  uint64_t seq = 0;
  int64_t ts = 0;
  bool ok = false;  // false: the send failed; forget the cmid
};

struct ConvIndex : net::ShardMsg {
  std::string user, conv;
  bool add = true;
};

struct SyncEntry {
  std::string conv;
  uint64_t last = 0, recv = 0, read = 0;
};

struct SyncQuery : net::ShardMsg {
  uint64_t token = 0;
  uint16_t reply_shard = 0;
  std::string user, device;
  bool all = false;
  std::vector<std::string> convs;
};

struct SyncPart : net::ShardMsg {
  uint64_t token = 0;
  std::vector<SyncEntry> entries;
};

struct SessionMsg : net::ShardMsg {  // kRegister, kUnregister, kSessionUp, kSessionDown, kKick
  std::string user, device;
  ConnRef conn;
  ConnRef replaced;       // kSessionUp: the session this one replaced, if any
  bool transition = false;  // up: the user's first device; down: the last one
  int64_t ts = 0;
  // kRegister: the welcome U sends once the session is in every replica.
  std::string session_id;
  bool hello_has_id = false;
  uint64_t hello_id = 0;
};

struct Reply : net::ShardMsg {  // kReply
  ConnRef conn;
  bool http = false;
  int status = 200;  // http
  std::string bytes;  // a JSON frame or an HTTP JSON body
  uint64_t created_us = 0;  // an ack: when its send arrived (MonoNs/1000)
  bool send_done = false;   // answers a /ws send (Origin::send)
};

struct Push : net::ShardMsg {  // kPush
  ~Push() override {
    if (frame) frame->Unref();
  }
  net::SharedBuf* frame = nullptr;  // JSON text of the frame
  std::vector<ConnRef> conns;
  std::string conv;   // for redelivery tracking when seq > 0
  uint64_t seq = 0;   // 0: not tracked (receipts, presence, ephemeral)
  uint64_t created_us = 0;
};

}  // namespace longlink::core
