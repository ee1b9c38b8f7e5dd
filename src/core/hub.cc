// Hub plumbing: construction, routing, the outbox, dispatch of shard
// messages, replies, and the C-side slot table. The three roles live in
// hub_conn.cc (C), hub_user.cc (U) and hub_conv.cc (A).
#include "core/hub.h"

#include <algorithm>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "ops/metrics.h"
#include "proto/reply.h"

namespace longlink::core {

Hub::Hub(net::Shard* shard, int nshards, const Options& opts, Sink* sink,
         std::unique_ptr<Engine> engine)
    : shard_(shard),
      id_(shard->id()),
      n_(nshards),
      opts_(opts),
      sink_(sink),
      engine_(engine ? std::move(engine) : std::make_unique<MemoryEngine>()),
      wheel_(100, MonoMs()) {
  engine_->SetListener(this);
  uv_timer_init(shard_->loop(), &timer_);
  timer_.data = this;
  uv_timer_init(shard_->loop(), &sweep_timer_);
  sweep_timer_.data = this;
}

Hub::~Hub() {
  for (PendingList* l : free_lists_) delete l;
  for (auto& [token, g] : syncs_) delete g.op;
  for (auto& [name, u] : users_) {
    if (!u.dedup) continue;
    for (auto& [cmid, waiting] : u.dedup->inflight) {
      for (Op* op : waiting) delete op;
    }
  }
}

void Hub::Connect(const std::vector<Hub*>& hubs) {
  hubs_ = hubs;
  std::vector<net::Mailbox<net::ShardMsg>*> boxes;
  for (Hub* h : hubs) boxes.push_back(&h->shard_->mailbox());
  outbox_ = std::make_unique<net::Outbox<net::ShardMsg>>(boxes);
}

void Hub::Post(int shard, net::ShardMsg* msg) {
  if (shard == id_) {
    Dispatch(msg);
  } else {
    outbox_->Add(size_t(shard), msg);
  }
}

void Hub::Adopt(Recovered&& r) {
  for (auto& c : r.convs) {
    engine_->Adopted(c.get());
    std::string id = c->id;
    convs_[id] = std::move(c);
  }
  // Each user's entries oldest first, so that the window's expiry order
  // (oldest insertion first) holds: the lists of one user (one per recovery
  // thread, each in log order) merged by ts.
  auto& seeds = r.dedup;
  std::sort(seeds.begin(), seeds.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  struct Ref {
    int64_t ts;
    uint32_t list, idx;
  };
  std::vector<Ref> order;
  for (size_t i = 0; i < seeds.size();) {
    size_t j = i, total = 0;
    for (; j < seeds.size() && seeds[j].first == seeds[i].first; j++) {
      total += seeds[j].second.recs.size();
    }
    order.clear();
    order.reserve(total);
    for (size_t k = i; k < j; k++) {
      const auto& recs = seeds[k].second.recs;
      for (uint32_t x = 0; x < recs.size(); x++) order.push_back(Ref{recs[x].ts, uint32_t(k), x});
    }
    if (!std::is_sorted(order.begin(), order.end(),
                        [](const Ref& a, const Ref& b) { return a.ts < b.ts; })) {
      std::stable_sort(order.begin(), order.end(),
                       [](const Ref& a, const Ref& b) { return a.ts < b.ts; });
    }
    UserState& u = users_[seeds[i].first];
    if (!u.dedup) u.dedup = std::make_unique<Dedup>();
    DedupWindow& w = u.dedup->done;
    w.Reserve(w.size() + total);
    for (const Ref& ref : order) {
      const DedupSeeds& s = seeds[ref.list].second;
      const DedupSeeds::Rec& rec = s.recs[ref.idx];
      DedupWindow::Entry e;
      if (w.Find(s.cmid(rec), &e)) continue;  // the first one wins
      w.Add(s.cmid(rec), s.conv(rec), rec.seq, rec.ts);
    }
    for (size_t k = i; k < j; k++) seeds[k].second = DedupSeeds{};  // free as we go
    i = j;
  }
  for (auto& [user, conv] : r.conv_index) users_[user].convs.insert(std::move(conv));
  // Every user's last_seen, in every replica of the presence table (the
  // list is shared with the other hubs: read only).
  if (r.last_seen) {
    presence_.reserve(presence_.size() + r.last_seen->size());
    for (const RecoveredLastSeen& ls : *r.last_seen) {
      PresenceEntry& e = presence_[ls.user];
      e.last_seen = std::max(e.last_seen, ls.last_seen_ms);
      engine_->AdoptedLastSeen(ls.user, ls.last_seen_ms, ls.pos);
    }
  }
}

void Hub::OnLoopEnd() {
  if (!sweep_armed_ && !stopped_) {
    // Armed here, on the shard's thread, not in the constructor.
    sweep_armed_ = true;
    uv_timer_start(&sweep_timer_, &Hub::OnDedupSweep, 60000, 60000);
    uv_unref(reinterpret_cast<uv_handle_t*>(&sweep_timer_));
  }
  engine_->Flush();
  if (outbox_ && outbox_->pending() > 0) outbox_->Flush();
}

void Hub::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_timer_stop(&sweep_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer_), nullptr);
  // Users still online in this replica (their sessions' closes may reach
  // this shard after it stopped): last seen now, for those whose partition
  // this shard writes.
  const int64_t now = int64_t(WallMs());
  for (const auto& [user, e] : presence_) {
    if (!e.devices.empty() && ConvOwner(user) == id_) engine_->UserOffline(user, now);
  }
  engine_->Shutdown();
  OnLoopEnd();
}

void Hub::OnMessage(net::ShardMsg* msg) { Dispatch(msg); }

void Hub::Dispatch(net::ShardMsg* msg) {
  switch (msg->kind) {
    case kUserOp:
      OnUserOp(static_cast<Op*>(msg));
      return;  // the op is forwarded or freed there
    case kConvOp:
      OnConvOp(static_cast<Op*>(msg));
      return;
    case kDedupRecord:
      OnDedupRecord(static_cast<DedupRecord*>(msg));
      break;
    case kConvIndex:
      OnConvIndex(static_cast<ConvIndex*>(msg));
      break;
    case kSyncQuery:
      OnSyncQuery(static_cast<SyncQuery*>(msg));
      break;
    case kSyncPart:
      OnSyncPart(static_cast<SyncPart*>(msg));
      break;
    case kRegister:
      OnRegister(static_cast<SessionMsg*>(msg));
      break;
    case kUnregister:
      OnUnregister(static_cast<SessionMsg*>(msg));
      break;
    case kSessionUp:
      OnSessionUp(static_cast<SessionMsg*>(msg));
      break;
    case kSessionDown:
      OnSessionDown(static_cast<SessionMsg*>(msg));
      break;
    case kKick:
      OnKick(static_cast<SessionMsg*>(msg));
      break;
    case kReply:
      OnReply(static_cast<Reply*>(msg));
      break;
    case kPush:
      OnPush(static_cast<Push*>(msg));
      break;
    default:
      LL_ERROR("hub %d: unknown message kind %d", id_, msg->kind);
      break;
  }
  delete msg;
}

// A reply lets the client act on what it says, and its next request may
// reach another shard before what this shard posted before the reply, were
// the reply's chain flushed first. So what is pending is posted first: every
// mailbox is linearizable, so anything caused by the reply queues behind it.
void Hub::SendReply(const Origin& o, std::string bytes, int status, uint64_t created_us) {
  if (!ReplyHere(o, bytes, status, created_us)) PostReply(o, std::move(bytes), status, created_us);
}

bool Hub::ReplyHere(const Origin& o, std::string_view bytes, int status, uint64_t created_us) {
  if (!o.conn.valid()) return true;
  // (Even for a connection of this shard: inside a read its reply is
  // written when the read ends, before the loop turn's flush.)
  if (outbox_ && outbox_->pending() > 0) outbox_->Flush();
  if (o.conn.shard != id_) return false;
  WriteReply(o.conn, o.http, status, bytes, created_us, o.send);
  return true;
}

void Hub::PostReply(const Origin& o, std::string bytes, int status, uint64_t created_us) {
  auto* r = new Reply();
  r->created_us = created_us;
  r->kind = kReply;
  r->conn = o.conn;
  r->http = o.http;
  r->status = status;
  r->bytes = std::move(bytes);
  r->send_done = o.send;
  Post(o.conn.shard, r);
}

static int HttpStatusOf(proto::ErrorCode code) {
  switch (code) {
    case proto::ErrorCode::kBadRequest: return 400;
    case proto::ErrorCode::kUnauthorized: return 401;
    case proto::ErrorCode::kForbidden: return 403;
    case proto::ErrorCode::kNotFound: return 404;
    case proto::ErrorCode::kTooLarge: return 413;
    case proto::ErrorCode::kRateLimited: return 429;
    case proto::ErrorCode::kOverloaded: return 503;
    default: return 500;
  }
}

void Hub::SendAck(const Op* op, std::string_view conv, uint64_t seq, int64_t ts, bool dup,
                  uint64_t created_us) {
  // Built in a kept buffer: an ack to a connection of this shard allocates
  // nothing, one to another shard's is copied once into its Reply.
  std::string& out = ack_buf_;
  out.clear();
  if (op->origin.http) {
    out = "{\"conv\":";
    proto::AppendJsonString(&out, conv);
    out += ",\"seq\":";
    proto::AppendUint(&out, seq);
    out += ",\"ts\":";
    proto::AppendInt(&out, ts);
    out += dup ? ",\"dup\":true}" : "}";
  } else {
    proto::Ack a;
    a.conv = conv;
    a.seq = seq;
    a.ts = ts;
    a.cmid = op->cmid;
    a.dup = dup;
    proto::AppendAck(&out, op->origin.has_id ? proto::FrameId(op->origin.id) : std::nullopt, a);
  }
  if (!ReplyHere(op->origin, out, 200, created_us)) {
    PostReply(op->origin, std::string(out), 200, created_us);
  }
}

void Hub::SendError(const Origin& o, int code, const char* msg, int http_status) {
  auto ec = proto::ErrorCode(code);
  std::string out;
  if (o.http) {
    out = "{\"error\":\"";
    out += proto::ErrorCodeName(ec);
    out += "\",\"msg\":";
    proto::AppendJsonString(&out, msg);
    out += "}";
    SendReply(o, std::move(out), http_status != 0 ? http_status : HttpStatusOf(ec));
    return;
  }
  proto::AppendError(&out, o.has_id ? proto::FrameId(o.id) : std::nullopt, ec, msg);
  SendReply(o, std::move(out));
}

void Hub::SendOk(const Origin& o) {
  std::string out;
  proto::AppendOk(&out, o.has_id ? proto::FrameId(o.id) : std::nullopt);
  SendReply(o, std::move(out));
}

// --- Slots.

ConnRef Hub::AllocSlot(void* conn, Session* s) {
  uint32_t idx;
  if (!free_slots_.empty()) {
    idx = free_slots_.back();
    free_slots_.pop_back();
  } else {
    idx = uint32_t(slots_.size());
    slots_.emplace_back();
  }
  Slot& sl = slots_[idx];
  sl.conn = conn;
  sl.session = s;
  sl.used = true;
  return ConnRef{idx, uint16_t(id_), sl.gen};
}

void Hub::FreeSlot(ConnRef ref) {
  if (ref.shard != id_ || ref.slot >= slots_.size()) return;
  Slot& sl = slots_[ref.slot];
  if (!sl.used || sl.gen != ref.gen) return;
  sl.used = false;
  sl.conn = nullptr;
  sl.session = nullptr;
  sl.gen = uint16_t(sl.gen + 1 == 0 ? 1 : sl.gen + 1);
  free_slots_.push_back(ref.slot);
}

void* Hub::ConnOf(ConnRef ref) const {
  if (ref.shard != id_ || ref.slot >= slots_.size()) return nullptr;
  const Slot& sl = slots_[ref.slot];
  return sl.used && sl.gen == ref.gen ? sl.conn : nullptr;
}

Session* Hub::SessionOf(ConnRef ref) const {
  if (ref.shard != id_ || ref.slot >= slots_.size()) return nullptr;
  const Slot& sl = slots_[ref.slot];
  return sl.used && sl.gen == ref.gen ? sl.session : nullptr;
}

ConnRef Hub::OpenHttp(void* conn) { return AllocSlot(conn, nullptr); }

void Hub::CloseHttp(ConnRef ref) { FreeSlot(ref); }

}  // namespace longlink::core
