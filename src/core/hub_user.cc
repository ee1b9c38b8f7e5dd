// Hub, U side: the owner of a user. Every request of the user's sessions
// passes here in order on its way to conversation owners. Here a cmid is
// checked against the dedup window (24 hours, whatever `to` and `body` the
// repeat carries), the user's devices are registered (a new session for the
// same device replaces the old one: 4009), the replicated session table is
// changed (broadcast to every shard, in this shard's order, so all replicas
// agree), and sync gathers cursors from the owners of the user's
// conversations.
#include <algorithm>

#include "base/clock.h"
#include "base/log.h"
#include "core/hub.h"
#include "proto/errors.h"
#include "proto/reply.h"

namespace longlink::core {

void Hub::OnUserOp(Op* op) {
  switch (op->type) {
    case OpType::kSend:
    case OpType::kPublish: {
      if (op->ephemeral) break;  // not deduplicated
      UserState& u = users_[op->user];
      if (!u.dedup) u.dedup = std::make_unique<Dedup>();
      u.dedup->done.Expire(int64_t(WallMs()) - kDedupWindowMs);
      DedupWindow::Entry e;
      if (u.dedup->done.Find(op->cmid, &e)) {
        AnswerDup(op, e);
        delete op;
        return;
      }
      if (op->refused != 0) {
        // A repeat of a send still being stored is answered with its ack;
        // anything else gets the error the frame earned.
        auto first = u.dedup->inflight.find(op->cmid);
        if (first != u.dedup->inflight.end()) {
          first->second.push_back(op);
          return;
        }
        SendError(op->origin, op->refused, op->refused_msg);
        delete op;
        return;
      }
      auto [it, fresh] = u.dedup->inflight.try_emplace(op->cmid);
      if (!fresh) {
        it->second.push_back(op);  // answered when the first is stored
        return;
      }
      break;
    }
    case OpType::kSync:
      StartSync(op);
      return;
    default:
      break;
  }
  // A sync pipelined after this request must see its conversation: list it
  // now. The owner answers a sync query only for conversations where the
  // user is a member with messages (direct) or a member (group), so a send or
  // join that fails adds nothing visible.
  if (!op->origin.http &&
      ((op->type == OpType::kSend && !op->ephemeral) || op->type == OpType::kJoin)) {
    users_[op->user].convs.insert(op->conv);
  }
  op->kind = kConvOp;
  Post(ConvOwner(op->conv), op);
}

void Hub::AnswerDup(Op* op, const DedupWindow::Entry& e) {
  SendAck(op, e.conv, e.seq, e.ts, true);
}

void Hub::OnDedupRecord(DedupRecord* r) {
  UserState& u = users_[r->user];
  if (!u.dedup) return;
  auto it = u.dedup->inflight.find(r->cmid);
  if (it == u.dedup->inflight.end()) return;
  std::vector<Op*> waiting;
  waiting.swap(it->second);
  u.dedup->inflight.erase(it);
  if (!r->ok) {
    // The send was refused (forbidden, not_found, storage failure): forget
    // the cmid, and let the repeats that waited try on their own.
    for (Op* op : waiting) OnUserOp(op);
    return;
  }
  u.dedup->done.Add(r->cmid, r->conv, r->seq, r->ts);
  const DedupWindow::Entry e{r->conv, r->seq, r->ts};
  for (Op* op : waiting) {
    AnswerDup(op, e);
    delete op;
  }
}

void Hub::OnDedupSweep(uv_timer_t* t) {
  auto* self = static_cast<Hub*>(t->data);
  const int64_t cutoff = int64_t(WallMs()) - kDedupWindowMs;
  for (auto& [name, u] : self->users_) {
    if (!u.dedup) continue;
    u.dedup->done.Expire(cutoff);
    if (u.dedup->done.empty() && u.dedup->inflight.empty()) u.dedup.reset();
  }
}

void Hub::OnConvIndex(ConvIndex* m) {
  UserState& u = users_[m->user];
  if (m->add) {
    u.convs.insert(m->conv);
  } else {
    u.convs.erase(m->conv);
  }
}

void Hub::Broadcast(const SessionMsg& m, int kind) {
  for (int i = 0; i < n_; i++) {
    auto* c = new SessionMsg(m);
    c->mailbox_next = nullptr;
    c->kind = kind;
    Post(i, c);
  }
}

void Hub::OnRegister(SessionMsg* m) {
  UserState& u = users_[m->user];
  bool first = u.devices.empty();
  SessionMsg up;
  up.user = m->user;
  up.device = m->device;
  up.conn = m->conn;
  up.ts = int64_t(WallMs());
  auto it = std::find_if(u.devices.begin(), u.devices.end(),
                         [&](const auto& d) { return d.first == m->device; });
  if (it != u.devices.end()) {
    up.replaced = it->second;
    auto* kick = new SessionMsg();
    kick->kind = kKick;
    kick->conn = it->second;
    Post(it->second.shard, kick);
    it->second = m->conn;
  } else {
    u.devices.emplace_back(m->device, m->conn);
  }
  up.transition = first;
  Broadcast(up, kSessionUp);
  proto::Welcome w;
  w.user = m->user;
  w.device = m->device;
  w.session = m->session_id;
  w.heartbeat_ms = opts_.heartbeat_ms;
  w.max_body = opts_.max_body;
  w.ts = up.ts;
  std::string out;
  proto::AppendWelcome(&out, m->hello_has_id ? proto::FrameId(m->hello_id) : std::nullopt, w);
  Origin o;
  o.conn = m->conn;
  SendReply(o, std::move(out));  // after the broadcast: see SendReply
}

void Hub::OnUnregister(SessionMsg* m) {
  auto uit = users_.find(m->user);
  if (uit == users_.end()) return;
  UserState& u = uit->second;
  auto it = std::find_if(u.devices.begin(), u.devices.end(),
                         [&](const auto& d) { return d.first == m->device; });
  if (it == u.devices.end() || !(it->second == m->conn)) return;  // replaced already
  u.devices.erase(it);
  SessionMsg down;
  down.user = m->user;
  down.device = m->device;
  down.conn = m->conn;
  down.ts = m->ts;
  down.transition = u.devices.empty();
  Broadcast(down, kSessionDown);
}

// sync: ask the owner of each of the user's conversations for its last seq
// and this device's cursors, then answer once every owner has.
void Hub::StartSync(Op* op) {
  uint64_t token = next_sync_++;
  SyncGather& g = syncs_[token];
  g.op = op;
  auto uit = users_.find(op->user);
  std::vector<SyncQuery*> queries(size_t(n_), nullptr);
  if (uit != users_.end()) {
    for (const std::string& conv : uit->second.convs) {
      int owner = ConvOwner(conv);
      SyncQuery*& q = queries[size_t(owner)];
      if (q == nullptr) {
        q = new SyncQuery();
        q->kind = kSyncQuery;
        q->token = token;
        q->reply_shard = uint16_t(id_);
        q->user = op->user;
        q->device = op->device;
        q->all = op->all;
        g.remaining++;
      }
      q->convs.push_back(conv);
    }
  }
  if (g.remaining == 0) {
    FinishSync(token);
    return;
  }
  for (int i = 0; i < n_; i++) {
    if (queries[size_t(i)] != nullptr) Post(i, queries[size_t(i)]);
  }
}

void Hub::OnSyncPart(SyncPart* p) {
  auto it = syncs_.find(p->token);
  if (it == syncs_.end()) return;
  for (auto& e : p->entries) it->second.entries.push_back(std::move(e));
  if (--it->second.remaining == 0) FinishSync(p->token);
}

void Hub::FinishSync(uint64_t token) {
  auto it = syncs_.find(token);
  SyncGather& g = it->second;
  std::sort(g.entries.begin(), g.entries.end(),
            [](const SyncEntry& a, const SyncEntry& b) { return a.conv < b.conv; });
  std::string out;
  const Origin& o = g.op->origin;
  proto::BeginSync(&out, o.has_id ? proto::FrameId(o.id) : std::nullopt);
  for (const SyncEntry& e : g.entries) {
    proto::SyncEntry pe;
    pe.conv = e.conv;
    pe.last = e.last;
    pe.recv = e.recv;
    pe.read = e.read;
    proto::AddSyncEntry(&out, pe);
  }
  proto::EndSync(&out);
  SendReply(o, std::move(out));
  delete g.op;
  syncs_.erase(it);
}

}  // namespace longlink::core
