// Hub: the messaging core of one shard (DESIGN.md "Threads and shards").
// Each shard plays three roles, for different keys:
//
//  * C, the connection side, for the sessions it accepted: the slot table
//    that names them across shards (ConnRef), pushes and replies coming in,
//    redelivery of unacknowledged pushes (one timer wheel), watchers.
//  * U, the owner of the users that hash to it: each user's devices (who
//    replaces whom, 4009), the cmid dedup window (24 h), the user's list of
//    conversations, and the routing of the user's requests to owners.
//  * A, the owner of the conversations that hash to it: seq, storage through
//    the Engine, members, every device's recv/read cursors, fan-out, pulls.
//
// The table of online sessions (user -> devices -> ConnRef) is replicated on
// every shard: U broadcasts each change, so A fans out to the connections'
// shards in one hop and presence is answered locally.
//
// Thread contract: everything runs on the hub's own shard. Hubs talk only
// through their shards' mailboxes, batched by an Outbox flushed once per
// loop turn (OnLoopEnd); a message for the hub's own shard is handled at
// once, in program order. No locks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "net/mailbox.h"
#include "net/shard.h"
#include "core/dedup_window.h"
#include "core/engine.h"
#include "core/ops.h"
#include "core/timer_wheel.h"
#include "core/types.h"
#include "storage/record_format.h"

namespace longlink::core {

struct Options {
  uint64_t ack_timeout_ms = 10000;
  uint64_t receipt_group_limit = 100;
  uint64_t heartbeat_ms = 25000;
  uint64_t max_body = 64 * 1024;
  size_t max_pending_pushes = 10000;  // per session, for redelivery
  uint32_t partitions = 8;            // of the log; a conversation's owner is its partition's
  uint32_t log_version = storage::kLogVersion;  // the log's PartitionOf
};

// What recovery (core/disk_engine.h) found for one shard: the conversations
// it owns, the cmids and conversation lists of the users it owns, and every
// user's last_seen.
// One user's cmids found in the log, in log order. Compact (32 B plus the
// bytes per entry, no allocation per entry): a big log holds millions.
struct DedupSeeds {
  struct Rec {
    int64_t ts;
    uint64_t seq;
    uint64_t off;  // cmid then conv bytes at `off` in `bytes`
    uint8_t cmid_len, conv_len;
  };
  std::vector<Rec> recs;
  std::string bytes;

  void Add(std::string_view cmid, std::string_view conv, uint64_t seq, int64_t ts) {
    recs.push_back(Rec{ts, seq, bytes.size(), uint8_t(cmid.size()), uint8_t(conv.size())});
    bytes.append(cmid);
    bytes.append(conv);
  }
  std::string_view cmid(const Rec& r) const { return {bytes.data() + r.off, r.cmid_len}; }
  std::string_view conv(const Rec& r) const {
    return {bytes.data() + r.off + r.cmid_len, r.conv_len};
  }
};
// A user's newest last_seen in the log (kLastSeen) and its record's position
// in the user's partition.
struct RecoveredLastSeen {
  std::string user;
  int64_t last_seen_ms = 0;
  uint64_t pos = 0;
};
struct Recovered {
  std::vector<std::unique_ptr<ConvState>> convs;
  // Every user's last_seen: one list shared by every shard (each seeds its
  // replica of the presence table with it); null when there is none.
  std::shared_ptr<const std::vector<RecoveredLastSeen>> last_seen;
  // (user, seeds); a user appears once per recovery thread that found some.
  std::vector<std::pair<std::string, DedupSeeds>> dedup;
  std::vector<std::pair<std::string, std::string>> conv_index;  // (user, conv)
};

// How the hub writes to connections; implemented by the protocol layer.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void Write(void* conn, std::string_view json) = 0;  // one text frame
  // The reply just written answered a send of the connection (Origin::send).
  virtual void SendDone(void* conn) = 0;
  virtual void WriteShared(void* conn, net::SharedBuf* json) = 0;
  virtual void Close(void* conn, uint16_t code, const char* reason) = 0;
  virtual void HttpRespond(void* conn, int status, std::string_view json) = 0;
};

struct PendingList;

// A WebSocket session on this shard (C side).
struct Session {
  std::string user, device, id;
  ConnRef self;
  void* conn = nullptr;
  std::vector<std::string> watching;
  // Pushes not yet covered by a recv, one list per conversation in flight
  // (a session has few at once, so a vector searched in order beats a hash
  // map). The lists come from the hub's pool and keep their capacity: a push
  // and the recv that covers it allocate nothing.
  std::vector<PendingList*> pending;
  size_t pending_count = 0;
};

// One push awaiting its recv.
struct PendingPush {
  net::SharedBuf* frame;  // a reference held
  uint64_t seq;
  uint64_t due_ms;       // when it is resent if still unacknowledged
  uint64_t interval_ms;  // the current backoff (PROTOCOL.md 5)
};

// A session's unacknowledged pushes of one conversation, in seq order (the
// order they were written), in a ring; one wheel timer per list, not per
// push. The timer is lazy: a recv that pops entries leaves it where it is
// (an emptied list stays with its session until then, and goes back to the
// pool if still empty when it fires); when it fires, the list is scanned,
// what is due is resent, and the timer goes to the earliest due left, but
// no sooner than max(one tick, ack_timeout / 8) from now: a list that is
// never acknowledged then costs one scan per ack_timeout / 8, not one per
// tick, and a resend is late by at most that much (12.5%).
struct PendingList : TimerNode {  // the wheel hands back the TimerNode
  Session* session = nullptr;
  std::string conv;
  std::vector<PendingPush> ring;  // a power of two, or empty
  size_t head = 0, count = 0;

  PendingPush& at(size_t i) { return ring[(head + i) & (ring.size() - 1)]; }
  PendingPush& front() { return ring[head]; }
  void push_back(const PendingPush& p) {
    if (count == ring.size()) {
      std::vector<PendingPush> bigger(ring.empty() ? 8 : ring.size() * 2);
      for (size_t i = 0; i < count; i++) bigger[i] = at(i);
      ring.swap(bigger);
      head = 0;
    }
    ring[(head + count) & (ring.size() - 1)] = p;
    count++;
  }
  void pop_front() {
    head = (head + 1) & (ring.size() - 1);
    count--;
  }
};

struct PresenceEntry {
  std::vector<std::pair<std::string, ConnRef>> devices;
  int64_t last_seen = 0;  // when the last device went away; 0: never
};

class Hub : public EngineListener {
 public:
  // `engine`: null for a MemoryEngine.
  Hub(net::Shard* shard, int nshards, const Options& opts, Sink* sink,
      std::unique_ptr<Engine> engine = nullptr);
  ~Hub() override;
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Before the shards start: every hub, indexed by shard id.
  void Connect(const std::vector<Hub*>& hubs);
  // Before the shards start: state recovered from the log.
  void Adopt(Recovered&& r);

  // --- C side: called by the protocol layer of this shard.
  // The welcome is sent by the user's owner once every shard's replica has
  // the session, so a message sent after the welcome reaches the device.
  Session* OpenSession(void* conn, std::string_view user, std::string_view device,
                       bool hello_has_id, uint64_t hello_id);
  void CloseSession(Session* s);
  // Takes ownership of `op`, a request of session `s` (send, recv, read,
  // pull, sync, join, leave), and routes it through the user's owner.
  void Submit(Session* s, Op* op);
  // A pending HTTP API request: a slot so the reply finds the connection.
  ConnRef OpenHttp(void* conn);
  void CloseHttp(ConnRef ref);
  // Takes ownership of an API op (publish, groups, history).
  void SubmitApi(Op* op);
  // Answers a presence query from the local replica (reply or API object).
  void AppendPresence(std::string* out, const Origin& o, const std::vector<std::string_view>& users,
                      bool api);
  void Watch(Session* s, const std::vector<std::string_view>& users);

  // --- Shard plumbing.
  void OnMessage(net::ShardMsg* msg);
  void OnLoopEnd();  // flushes the outbox
  void Shutdown();   // closes the redelivery timer; the shard is quiescing

  // EngineListener (A side).
  void OnDurable(ConvState* c, Op* op, const StoredMsg& m, bool ok) override;
  void OnStateDurable(Op* op, bool ok) override;

  int shard_id() const { return id_; }
  uint64_t pending_pushes() const { return pending_pushes_; }
  uint64_t redeliveries() const { return redeliveries_; }
  uint64_t receipts() const { return receipts_; }

 private:
  // Routing.
  int UserOwner(std::string_view user) const { return UserOwnerOf(user, n_); }
  int ConvOwner(std::string_view conv) const {
    return int(storage::PartitionOf(conv, opts_.partitions, opts_.log_version) % uint32_t(n_));
  }
  void Post(int shard, net::ShardMsg* msg);
  void Dispatch(net::ShardMsg* msg);
  // To a connection of this shard the reply is written at once (WriteReply);
  // to another shard's it goes as a Reply.
  void SendReply(const Origin& o, std::string bytes, int status = 200, uint64_t created_us = 0);
  // SendReply's first half: flushes what is pending for other shards, writes
  // the reply if the connection is this shard's (or gone), and returns false
  // if it is another shard's, for the caller to post.
  bool ReplyHere(const Origin& o, std::string_view bytes, int status, uint64_t created_us);
  void PostReply(const Origin& o, std::string bytes, int status, uint64_t created_us);
  // `http_status` 0: the status that goes with the code (section 9).
  void SendError(const Origin& o, int code /*proto::ErrorCode*/, const char* msg,
                 int http_status = 0);
  // The answer to a stored (or deduplicated) send: an ack frame, or for
  // POST /api/publish the {"conv","seq","ts"[,"dup"]} object.
  void SendAck(const Op* op, std::string_view conv, uint64_t seq, int64_t ts, bool dup,
               uint64_t created_us = 0);
  // `ok`, with the request's id if it had one (whether a request without
  // one is answered at all is SilentWithoutId's call, in hub_conv.cc).
  void SendOk(const Origin& o);

  // C side (hub_conn.cc).
  void OnReply(Reply* r);
  void WriteReply(ConnRef conn, bool http, int status, std::string_view bytes,
                  uint64_t created_us, bool send_done);
  void OnPush(Push* p);
  void OnKick(SessionMsg* m);
  void OnSessionUp(SessionMsg* m);
  void OnSessionDown(SessionMsg* m);
  void DropPending(Session* s, const std::string& conv, uint64_t upto);
  void DropAllPending(Session* s);
  void ReleaseList(PendingList* l);
  void OnPendingDue(PendingList* l, uint64_t now);
  void ArmTimer();
  static void OnTimer(uv_timer_t* t);
  void* ConnOf(ConnRef ref) const;
  Session* SessionOf(ConnRef ref) const;
  ConnRef AllocSlot(void* conn, Session* s);
  void FreeSlot(ConnRef ref);

  // U side (hub_user.cc).
  struct Dedup {
    DedupWindow done;  // stored sends: cmid -> (conv, seq, ts), 24 hours
    // Sends on their way to the conversation owner, with the repeats that
    // arrived meanwhile (answered when the first is stored).
    std::unordered_map<std::string, std::vector<Op*>> inflight;
  };
  // Kept small for idle users: a few devices in a vector, the dedup window
  // allocated on the first send.
  struct UserState {
    std::vector<std::pair<std::string, ConnRef>> devices;
    std::unique_ptr<Dedup> dedup;
    std::unordered_set<std::string> convs;
  };
  struct SyncGather {
    Op* op = nullptr;
    int remaining = 0;
    std::vector<SyncEntry> entries;
  };
  void OnUserOp(Op* op);
  void OnDedupRecord(DedupRecord* r);
  void OnConvIndex(ConvIndex* m);
  void OnRegister(SessionMsg* m);
  void OnUnregister(SessionMsg* m);
  void OnSyncPart(SyncPart* p);
  void StartSync(Op* op);
  void FinishSync(uint64_t token);
  void AnswerDup(Op* op, const DedupWindow::Entry& e);
  static void OnDedupSweep(uv_timer_t* t);
  void Broadcast(const SessionMsg& m, int kind);

  // A side (hub_conv.cc).
  void OnConvOp(Op* op);
  void OnSyncQuery(SyncQuery* q);
  void DoSend(Op* op);
  void DoCursor(Op* op);
  void DoPull(Op* op);
  // These two return true when they keep `op` (answered once durable).
  bool DoJoinLeave(Op* op);
  bool DoGroupAdmin(Op* op);
  // Membership check for a client op; answers the error and returns null.
  ConvState* Authorize(Op* op, bool create_direct);
  ConvState* FindConv(const std::string& id);
  ConvState& GetConv(const std::string& id);
  void MoveCursor(ConvState* c, Op* op, bool recv, uint64_t seq);
  // Pushes `frame` to every online device of c's members but `except`, in
  // one Push per destination shard. Returns how many connections it goes to.
  size_t FanOut(const ConvState* c, net::SharedBuf* frame, const ConnRef* except,
                const std::string* track_conv, uint64_t seq, uint64_t created_us);
  void BuildPage(std::string* out, const Origin& o, ConvState* c, const Op* op);
  void IndexConv(const std::string& user, const std::string& conv, bool add);

  net::Shard* shard_;
  const int id_;
  const int n_;
  const Options opts_;
  Sink* sink_;
  std::vector<Hub*> hubs_;
  std::unique_ptr<net::Outbox<net::ShardMsg>> outbox_;
  std::unique_ptr<Engine> engine_;

  // C side.
  struct Slot {
    void* conn = nullptr;
    Session* session = nullptr;
    uint16_t gen = 1;
    bool used = false;
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::unordered_map<std::string, PresenceEntry, StringHash, std::equal_to<>> presence_;  // replica
  std::unordered_map<std::string, std::vector<ConnRef>> watchers_;  // local watchers
  TimerWheel wheel_;
  uv_timer_t timer_;
  bool timer_armed_ = false;
  // Every minute: expire every user's cmid window, so that the window of a
  // user who stopped sending is freed too (Expire also runs on each send).
  uv_timer_t sweep_timer_;
  bool sweep_armed_ = false;
  bool stopped_ = false;
  std::vector<PendingList*> free_lists_;
  uint64_t pending_pushes_ = 0;  // in all lists
  uint64_t redeliveries_ = 0;
  uint64_t receipts_ = 0;  // receipt frames sent, one per receiving connection
  std::vector<Push*> fanout_;  // FanOut's per-shard Push vector, kept for its capacity
  // FanOut's Push to this shard's own connections, handled in place and kept
  // for its vector's capacity (taken while in use: a nested FanOut makes its own).
  std::unique_ptr<Push> local_push_;
  uint64_t session_counter_ = 0;

  // U side.
  std::unordered_map<std::string, UserState> users_;
  std::unordered_map<uint64_t, SyncGather> syncs_;
  uint64_t next_sync_ = 1;

  // A side.
  std::unordered_map<std::string, std::unique_ptr<ConvState>> convs_;
  std::string scratch_;
  std::string ack_buf_;  // SendAck's frame, kept for its capacity
};

}  // namespace longlink::core
