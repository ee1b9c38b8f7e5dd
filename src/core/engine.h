// Engine: where a shard's conversations keep their messages. The messaging
// core keeps the indexes it needs in memory (last seq, members, cursors) and
// asks the engine to make things durable and to read messages back. The
// in-memory engine (--storage memory) is MemoryEngine below; the embedded
// append-only log and, later, a Redis engine implement the same interface,
// so the protocol layer does not change with them. Presence and routing are
// the replicated session table of the Hub (core/hub.h) for the embedded
// engines; a clustered engine would provide them instead.
//
// Thread contract: an Engine instance belongs to one shard and is called on
// its thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "net/out_queue.h"

namespace longlink::core {

struct Op;

// A frame for many connections: `json` after its WebSocket text frame
// header (SharedBuf::head), not appendable, one reference.
net::SharedBuf* NewSharedFrame(std::string_view json);

// A stored message. `frame` is the JSON of its push, {"t":"msg",...}, built
// once (frame->payload(), after the WebSocket header); a page item is the
// same bytes without the leading `"t":"msg",`.
struct StoredMsg {
  uint64_t seq = 0;
  int64_t ts = 0;
  net::SharedBuf* frame = nullptr;  // one reference owned by the engine
};

struct Cursor {
  uint64_t recv = 0;
  uint64_t read = 0;
};

// What the owner shard knows of one conversation.
struct ConvState {
  ConvState() = default;
  ConvState(const ConvState&) = delete;
  ConvState& operator=(const ConvState&) = delete;
  ~ConvState() {
    for (auto& m : msgs) m.frame->Unref();
  }
  std::string id;
  bool group = false;
  bool exists = false;  // groups: created and not deleted (a direct one: has messages)
  bool open = false;
  uint32_t partition = 0;   // storage::PartitionOf(id): decides the owner shard
  uint64_t last_seq = 0;    // the last seq assigned
  uint64_t durable_seq = 0; // seqs up to here are stored: pulls, sync and cursors stop here
  std::unordered_set<std::string> members;              // groups
  std::unordered_map<std::string, Cursor> cursors;      // DeviceKey(user, device)
  std::deque<StoredMsg> msgs;                           // MemoryEngine's copy
  // DiskEngine's index into the log (positions are stored +1; 0: none).
  uint64_t first_seq = 1;    // older messages are gone (retention, a recovery cut)
  uint64_t tail_pos = 0;     // the newest appended message
  uint64_t durable_pos = 0;  // the newest durable message
  std::vector<std::pair<uint64_t, uint64_t>> index;  // (seq, position) of every 64th seq
  bool registered = false;   // listed in the engine's partition table
};

// A change of a group for the log: its whole state (create, delete), or
// members added and removed (join, leave, members update).
struct GroupChange {
  bool full = false;
  std::vector<std::string> add, remove;
};

class EngineListener {
 public:
  virtual ~EngineListener() = default;
  // `op`'s message is durable (ok) or could not be stored (!ok).
  virtual void OnDurable(ConvState* c, Op* op, const StoredMsg& m, bool ok) = 0;
  // `op`'s group change is durable (ok) or could not be stored (!ok).
  virtual void OnStateDurable(Op* op, bool ok) = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  void SetListener(EngineListener* l) { listener_ = l; }
  // Appends `m` (taking its frame reference) to c's log, and calls
  // OnDurable once it is durable under the --fsync policy, maybe before
  // returning. Messages of one conversation become durable in seq order.
  virtual void Append(ConvState* c, Op* op, StoredMsg m) = 0;
  // The stored messages with lo <= seq <= hi (hi <= c->durable_seq),
  // ascending, at most `limit`. `from_top`: the highest `limit` of them
  // instead of the lowest. The caller owns one reference to each frame.
  // Seqs may be missing (a recovery cut a record in the middle of the log):
  // the page skips them and still holds `limit` messages when that many are
  // stored in the range. Returns whether more stored messages of the range
  // lie beyond the page (below it with `from_top`, above it without).
  virtual bool Read(const ConvState* c, uint64_t lo, uint64_t hi, size_t limit, bool from_top,
                    std::vector<StoredMsg>* out) = 0;
  // The oldest seq still kept (1 when nothing was dropped).
  virtual uint64_t FirstSeq(const ConvState* c) const = 0;
  // A cursor moved: written under the --fsync policy, nobody waits for it
  // (after a crash a cursor may be behind, never ahead).
  virtual void CursorMoved(ConvState* c, const std::string& key, const Cursor& cur) = 0;
  // A group changed; OnStateDurable(op) once durable (op may be null: no
  // one waits).
  virtual void GroupChanged(ConvState* c, const GroupChange& ch, Op* op) = 0;
  // A conversation rebuilt by recovery, handed over before the shard starts.
  virtual void Adopted(ConvState*) {}
  // `user`'s last device went away at `last_seen_ms` (presence's last_seen).
  // Called only on the shard that owns the user's partition
  // (storage::PartitionOf(user), the placement of a conversation id):
  // written under the --fsync policy, nobody waits (best effort, as cursor
  // moves). The memory engine keeps nothing.
  virtual void UserOffline(const std::string& /*user*/, int64_t /*last_seen_ms*/) {}
  // A last_seen found by recovery, handed over before the shard starts; every
  // shard gets every user's (presence is replicated), the engine keeps those
  // of its partitions. `pos`: where its record lies (the engine's business).
  virtual void AdoptedLastSeen(const std::string& /*user*/, int64_t /*last_seen_ms*/,
                               uint64_t /*pos*/) {}
  // Once per loop turn, before the shard's outbox is flushed: write what
  // was appended during the turn.
  virtual void Flush() {}
  // The shard stops: write and sync everything.
  virtual void Shutdown() {}

 protected:
  EngineListener* listener_ = nullptr;
};

class MemoryEngine : public Engine {
 public:
  ~MemoryEngine() override;
  void Append(ConvState* c, Op* op, StoredMsg m) override;
  bool Read(const ConvState* c, uint64_t lo, uint64_t hi, size_t limit, bool from_top,
            std::vector<StoredMsg>* out) override;
  uint64_t FirstSeq(const ConvState*) const override { return 1; }
  void CursorMoved(ConvState*, const std::string&, const Cursor&) override {}
  void GroupChanged(ConvState*, const GroupChange&, Op* op) override {
    if (op != nullptr) listener_->OnStateDurable(op, true);
  }
};

}  // namespace longlink::core
