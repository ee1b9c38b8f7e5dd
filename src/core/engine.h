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
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "net/out_queue.h"

namespace longlink::core {

struct Op;

// A stored message. `frame` is the JSON of its push, {"t":"msg",...}, built
// once; a page item is the same bytes without the leading `"t":"msg",`.
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
  uint64_t last_seq = 0;
  std::unordered_set<std::string> members;              // groups
  std::unordered_map<std::string, Cursor> cursors;      // DeviceKey(user, device)
  std::deque<StoredMsg> msgs;                           // MemoryEngine's copy
};

class EngineListener {
 public:
  virtual ~EngineListener() = default;
  // `op`'s message is durable (ok) or could not be stored (!ok).
  virtual void OnDurable(ConvState* c, Op* op, const StoredMsg& m, bool ok) = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Appends `m` (taking its frame reference) to c's log, and calls
  // listener->OnDurable once it is durable under the --fsync policy, maybe
  // before returning.
  virtual void Append(ConvState* c, Op* op, StoredMsg m, EngineListener* listener) = 0;
  // The stored messages with lo <= seq <= hi, ascending, at most `limit`.
  // `from_top`: the highest `limit` of them instead of the lowest.
  virtual void Read(const ConvState* c, uint64_t lo, uint64_t hi, size_t limit, bool from_top,
                    std::vector<const StoredMsg*>* out) const = 0;
  // The oldest seq still kept (1 when nothing was dropped).
  virtual uint64_t FirstSeq(const ConvState* c) const = 0;
  // State changes that must survive a restart. The memory engine keeps
  // nothing; a durable one logs them.
  virtual void CursorMoved(const ConvState* c, const std::string& key, const Cursor& cur) = 0;
  virtual void GroupChanged(const ConvState* c) = 0;
};

class MemoryEngine : public Engine {
 public:
  ~MemoryEngine() override;
  void Append(ConvState* c, Op* op, StoredMsg m, EngineListener* listener) override;
  void Read(const ConvState* c, uint64_t lo, uint64_t hi, size_t limit, bool from_top,
            std::vector<const StoredMsg*>* out) const override;
  uint64_t FirstSeq(const ConvState*) const override { return 1; }
  void CursorMoved(const ConvState*, const std::string&, const Cursor&) override {}
  void GroupChanged(const ConvState*) override {}
};

}  // namespace longlink::core
