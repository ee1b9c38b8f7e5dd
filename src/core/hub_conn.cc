// Hub, C side: the sessions this shard accepted. Pushes and replies from any
// shard land here and are written to the connections; pushes of stored
// messages are remembered until a recv covers them and are pushed again
// after --ack-timeout, doubling up to 300 s, while the session lives. The
// replicated session table and the local watchers are kept here too.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "base/clock.h"
#include "base/log.h"
#include "base/random.h"
#include "core/hub.h"
#include "proto/reply.h"

namespace longlink::core {

Session* Hub::OpenSession(void* conn, std::string_view user, std::string_view device,
                          bool hello_has_id, uint64_t hello_id) {
  auto* s = new Session();
  s->user.assign(user);
  s->device.assign(device);
  s->conn = conn;
  s->self = AllocSlot(conn, s);
  // "<shard hex>-<counter hex>-<128 random bits hex>". The protocol layer
  // routes POST /send (SSE) to the session's shard by the leading number,
  // and the id is the only thing that proves a POST comes from the session:
  // hence the random part.
  char id[40];
  std::snprintf(id, sizeof(id), "%x-%" PRIx64 "-", unsigned(id_), ++session_counter_);
  s->id = id;
  AppendRandomHex(&s->id, 16);
  auto* m = new SessionMsg();
  m->kind = kRegister;
  m->user = s->user;
  m->device = s->device;
  m->conn = s->self;
  m->session_id = s->id;
  m->hello_has_id = hello_has_id;
  m->hello_id = hello_id;
  Post(UserOwner(user), m);
  return s;
}

void Hub::CloseSession(Session* s) {
  DropAllPending(s);
  for (const std::string& u : s->watching) {
    auto it = watchers_.find(u);
    if (it == watchers_.end()) continue;
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), s->self), v.end());
    if (v.empty()) watchers_.erase(it);
  }
  auto* m = new SessionMsg();
  m->kind = kUnregister;
  m->user = s->user;
  m->device = s->device;
  m->conn = s->self;
  m->ts = int64_t(WallMs());
  Post(UserOwner(s->user), m);
  FreeSlot(s->self);
  delete s;
}

void Hub::Submit(Session* s, Op* op) {
  op->kind = kUserOp;
  op->origin.conn = s->self;
  if (op->type == OpType::kRecv) DropPending(s, op->conv, op->seq);
  if (op->type == OpType::kPull && op->has_after) DropPending(s, op->conv, op->after);
  op->user = s->user;
  op->device = s->device;
  Post(UserOwner(s->user), op);
}

void Hub::SubmitApi(Op* op) {
  op->origin.http = true;
  if (op->type == OpType::kPublish) {
    op->kind = kUserOp;
    Post(UserOwner(op->user), op);
  } else {
    op->kind = kConvOp;
    Post(ConvOwner(op->conv), op);
  }
}

void Hub::AppendPresence(std::string* out, const Origin& o,
                         const std::vector<std::string_view>& users, bool api) {
  // The API answers the same object without an id (section 9).
  proto::BeginPresence(out, !api && o.has_id ? proto::FrameId(o.id) : std::nullopt);
  std::unordered_set<std::string_view> seen;
  for (std::string_view u : users) {
    if (!seen.insert(u).second) continue;
    auto it = presence_.find(u);
    if (it != presence_.end() && !it->second.devices.empty()) {
      proto::AddPresenceOnline(out, u, it->second.devices.size());
    } else if (it != presence_.end() && it->second.last_seen != 0) {
      proto::AddPresenceOffline(out, u, it->second.last_seen);
    } else {
      proto::AddPresenceOffline(out, u, std::nullopt);
    }
  }
  proto::EndPresence(out);
}

void Hub::Watch(Session* s, const std::vector<std::string_view>& users) {
  for (std::string_view u : users) {
    std::string key(u);
    if (std::find(s->watching.begin(), s->watching.end(), key) != s->watching.end()) continue;
    s->watching.push_back(key);
    watchers_[key].push_back(s->self);
  }
}

void Hub::OnReply(Reply* r) {
  WriteReply(r->conn, r->http, r->status, r->bytes, r->created_us, r->send_done);
}

void Hub::WriteReply(ConnRef ref, bool http, int status, std::string_view bytes,
                     uint64_t created_us, bool send_done) {
  void* conn = ConnOf(ref);
  if (conn == nullptr) return;  // the connection went away meanwhile
  if (http) {
    sink_->HttpRespond(conn, status, bytes);
  } else {
    sink_->Write(conn, bytes);
    if (send_done) sink_->SendDone(conn);
  }
  if (created_us != 0) shard_->metrics().send_to_ack.Observe(MonoNs() / 1000 - created_us);
}

void Hub::OnPush(Push* p) {
  if (p->created_us != 0) {
    shard_->metrics().send_to_delivery.Observe(MonoNs() / 1000 - p->created_us, p->conns.size());
  }
  const uint64_t now = MonoMs();
  const uint64_t interval = opts_.ack_timeout_ms;
  for (const ConnRef& ref : p->conns) {
    Session* s = SessionOf(ref);
    if (s == nullptr) continue;
    sink_->WriteShared(s->conn, p->frame);
    if (p->seq == 0 || s->pending_count >= opts_.max_pending_pushes) continue;
    PendingList* list = nullptr;
    for (PendingList* l : s->pending) {
      if (l->conv == p->conv) {
        list = l;
        break;
      }
    }
    if (list == nullptr) {
      if (!free_lists_.empty()) {
        list = free_lists_.back();
        free_lists_.pop_back();
      } else {
        list = new PendingList();
      }
      list->session = s;
      list->conv = p->conv;
      s->pending.push_back(list);
    }
    // Remember it for redelivery until a recv covers it.
    p->frame->Ref();
    list->push_back(PendingPush{p->frame, p->seq, now + interval, interval});
    s->pending_count++;
    pending_pushes_++;
    if (!list->scheduled()) {
      wheel_.Schedule(list, now + interval);
    } else if (list->deadline_ms > now + interval) {
      // Everything before it is backed off further than this one.
      wheel_.Cancel(list);
      wheel_.Schedule(list, now + interval);
    }
  }
  ArmTimer();
}

void Hub::DropPending(Session* s, const std::string& conv, uint64_t upto) {
  for (size_t i = 0; i < s->pending.size(); i++) {
    PendingList* l = s->pending[i];
    if (l->conv != conv) continue;
    // Pushes of one conversation reach a connection in seq order, so the
    // covered ones are at the front.
    while (l->count > 0 && l->front().seq <= upto) {
      l->front().frame->Unref();
      l->pop_front();
      s->pending_count--;
      pending_pushes_--;
    }
    // An emptied list stays with the session, its lazy timer armed, until
    // that timer finds it still empty (OnPendingDue): a member that acks
    // every batch of a busy conversation then keeps one list and one timer
    // instead of taking and scheduling a list per batch and cancelling it
    // per recv.
    return;
  }
}

void Hub::DropAllPending(Session* s) {
  for (PendingList* l : s->pending) {
    while (l->count > 0) {
      l->front().frame->Unref();
      l->pop_front();
      pending_pushes_--;
    }
    ReleaseList(l);
  }
  s->pending.clear();
  s->pending_count = 0;
}

void Hub::ReleaseList(PendingList* l) {
  if (l->scheduled()) wheel_.Cancel(l);
  l->session = nullptr;
  l->head = 0;
  // Keep the ring for the next list unless a backlog made it big.
  if (l->ring.size() > 1024) std::vector<PendingPush>().swap(l->ring);
  free_lists_.push_back(l);
}

void Hub::OnPendingDue(PendingList* l, uint64_t now) {
  if (l->count == 0) {
    // Emptied by recvs since it was armed (DropPending): back to the pool.
    std::vector<PendingList*>& v = l->session->pending;
    auto it = std::find(v.begin(), v.end(), l);
    LL_DCHECK(it != v.end());
    *it = v.back();  // swap-remove; the vector keeps its capacity
    v.pop_back();
    ReleaseList(l);
    return;
  }
  uint64_t next = TimerWheel::kNever;
  for (size_t i = 0; i < l->count; i++) {
    PendingPush& p = l->at(i);
    if (p.due_ms <= now) {
      sink_->WriteShared(l->session->conn, p.frame);
      redeliveries_++;
      p.interval_ms = NextBackoff(p.interval_ms);
      p.due_ms = now + p.interval_ms;
    }
    next = std::min(next, p.due_ms);
  }
  const uint64_t floor = now + std::max<uint64_t>(wheel_.tick_ms(), opts_.ack_timeout_ms / 8);
  wheel_.Schedule(l, std::max(next, floor));
}

void Hub::ArmTimer() {
  if (timer_armed_ || stopped_ || wheel_.empty()) return;
  timer_armed_ = true;
  uv_timer_start(&timer_, &Hub::OnTimer, wheel_.tick_ms(), wheel_.tick_ms());
}

void Hub::OnTimer(uv_timer_t* t) {
  auto* self = static_cast<Hub*>(t->data);
  uint64_t now = MonoMs();
  self->wheel_.Advance(now, [&](TimerNode* node) {
    self->OnPendingDue(static_cast<PendingList*>(node), now);
  });
  if (self->wheel_.empty()) {
    uv_timer_stop(&self->timer_);
    self->timer_armed_ = false;
  }
}

void Hub::OnKick(SessionMsg* m) {
  Session* s = SessionOf(m->conn);
  if (s != nullptr) sink_->Close(s->conn, 4009, "replaced by a new session");
}

void Hub::OnSessionUp(SessionMsg* m) {
  PresenceEntry& e = presence_[m->user];
  auto& d = e.devices;
  d.erase(std::remove_if(d.begin(), d.end(),
                         [&](const auto& p) { return p.first == m->device; }),
          d.end());
  d.emplace_back(m->device, m->conn);
  if (!m->transition) return;
  auto it = watchers_.find(m->user);
  if (it == watchers_.end()) return;
  scratch_.clear();
  proto::AppendPresencePush(&scratch_, m->user, true, m->ts);
  for (const ConnRef& w : it->second) {
    if (void* conn = ConnOf(w)) sink_->Write(conn, scratch_);
  }
}

void Hub::OnSessionDown(SessionMsg* m) {
  auto pit = presence_.find(m->user);
  if (pit == presence_.end()) return;
  auto& d = pit->second.devices;
  d.erase(std::remove_if(d.begin(), d.end(),
                         [&](const auto& p) { return p.first == m->device && p.second == m->conn; }),
          d.end());
  if (d.empty()) {
    pit->second.last_seen = m->ts;
    // Every shard's replica sees this; the one that owns the user's
    // partition makes it durable.
    if (ConvOwner(m->user) == id_) engine_->UserOffline(m->user, m->ts);
  }
  if (!m->transition) return;
  auto it = watchers_.find(m->user);
  if (it == watchers_.end()) return;
  scratch_.clear();
  proto::AppendPresencePush(&scratch_, m->user, false, m->ts);
  for (const ConnRef& w : it->second) {
    if (void* conn = ConnOf(w)) sink_->Write(conn, scratch_);
  }
}

}  // namespace longlink::core
