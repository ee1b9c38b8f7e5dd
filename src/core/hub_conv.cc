// Hub, A side: the owner of a conversation. It checks membership, assigns
// seq (1, 2, 3, ... without gaps: only this shard assigns them, in the order
// requests reach it), hands the message to the Engine, and once the engine
// says it is durable acks the sender, records the cmid with the sender's
// owner, and pushes the frame, built once and shared by reference count, to
// every online device of every member except the sending connection. It
// keeps each device's recv/read cursors and sends receipts when they move,
// serves pulls and history, and keeps group membership.
#include <algorithm>
#include <cstring>

#include "base/clock.h"
#include "base/log.h"
#include "core/hub.h"
#include "proto/errors.h"
#include "proto/ids.h"
#include "proto/reply.h"

namespace longlink::core {

namespace {

using proto::ErrorCode;

constexpr size_t kMsgPrefix = sizeof("{\"t\":\"msg\",") - 1;

// recv and read have no reply without an id (PROTOCOL.md 5), errors
// included; every other request is answered, with or without one.
bool SilentWithoutId(const Op* op) {
  return !op->origin.has_id && !op->origin.http &&
         (op->type == OpType::kRecv || op->type == OpType::kRead);
}

// Calls f(std::string_view user) for every member, without copying names.
template <typename F>
void ForEachMember(const ConvState* c, F&& f) {
  if (c->group) {
    for (const std::string& m : c->members) f(std::string_view(m));
    return;
  }
  proto::ConvId id;
  if (!proto::ParseConv(c->id, &id)) return;
  f(id.a);
  if (id.b != id.a) f(id.b);
}

}  // namespace

ConvState* Hub::FindConv(const std::string& id) {
  auto it = convs_.find(id);
  return it == convs_.end() ? nullptr : it->second.get();
}

ConvState& Hub::GetConv(const std::string& id) {
  auto& p = convs_[id];
  if (!p) {
    p = std::make_unique<ConvState>();
    p->id = id;
    p->group = id.size() > 2 && id[0] == 'g';
    p->partition = storage::PartitionOf(id, opts_.partitions, opts_.log_version);
  }
  return *p;
}

void Hub::IndexConv(const std::string& user, const std::string& conv, bool add) {
  auto* m = new ConvIndex();
  m->kind = kConvIndex;
  m->user = user;
  m->conv = conv;
  m->add = add;
  Post(UserOwner(user), m);
}

void Hub::OnConvOp(Op* op) {
  switch (op->type) {
    case OpType::kSend:
    case OpType::kPublish:
      DoSend(op);
      return;  // freed once durable
    case OpType::kRecv:
    case OpType::kRead:
      DoCursor(op);
      break;
    case OpType::kPull:
    case OpType::kHistory:
      DoPull(op);
      break;
    case OpType::kJoin:
    case OpType::kLeave:
      if (DoJoinLeave(op)) return;  // answered once durable
      break;
    case OpType::kGroupCreate:
    case OpType::kGroupMembers:
    case OpType::kGroupGet:
    case OpType::kGroupDelete:
      if (DoGroupAdmin(op)) return;
      break;
    case OpType::kSync:
      break;  // handled by the user's owner
  }
  delete op;
}

// Finds the conversation of a client request and checks that the user may
// use it. Returns null after answering the error, or null with *absent set
// for a direct conversation without messages (a valid, empty one).
ConvState* Hub::Authorize(Op* op, bool create_direct) {
  proto::ConvId id;
  if (!proto::ParseConv(op->conv, &id)) {
    if (!SilentWithoutId(op)) SendError(op->origin, int(ErrorCode::kBadRequest), "invalid conv");
    return nullptr;
  }
  if (id.kind == proto::ConvKind::kGroup) {
    ConvState* c = FindConv(op->conv);
    if (c == nullptr || !c->exists) {
      if (!SilentWithoutId(op)) SendError(op->origin, int(ErrorCode::kNotFound), "no such group");
      return nullptr;
    }
    bool api = op->origin.http;
    if (!api && c->members.count(op->user) == 0) {
      if (!SilentWithoutId(op)) {
        SendError(op->origin, int(ErrorCode::kForbidden), "not a member of the group");
      }
      return nullptr;
    }
    return c;
  }
  if (!op->origin.http && id.a != op->user && id.b != op->user) {
    if (!SilentWithoutId(op)) {
      SendError(op->origin, int(ErrorCode::kForbidden), "not a member of the conversation");
    }
    return nullptr;
  }
  if (create_direct) return &GetConv(op->conv);
  return FindConv(op->conv);
}

void Hub::DoSend(Op* op) {
  ConvState* c = Authorize(op, true);
  if (c == nullptr) {
    if (!op->ephemeral) {
      auto* r = new DedupRecord();
      r->kind = kDedupRecord;
      r->user = op->user;
      r->cmid = op->cmid;
      r->ok = false;
      Post(UserOwner(op->user), r);
    }
    delete op;
    return;
  }
  op->ts = int64_t(WallMs());
  proto::Message m;
  m.conv = c->id;
  m.from = op->user;
  m.device = op->device;
  m.ts = op->ts;
  m.cmid = op->cmid;
  m.body = op->body;
  scratch_.clear();
  if (op->ephemeral) {
    // Not stored, not deduplicated, no seq: pushed to who is online now.
    proto::AppendEphemeralMsg(&scratch_, m);
    net::SharedBuf* f = NewSharedFrame(scratch_);
    FanOut(c, f, op->origin.http ? nullptr : &op->origin.conn, nullptr, 0, 0);
    f->Unref();
    SendAck(op, c->id, 0, op->ts, false);
    delete op;
    return;
  }
  m.seq = ++c->last_seq;
  c->exists = true;
  proto::AppendMsg(&scratch_, m);
  StoredMsg sm;
  sm.seq = m.seq;
  sm.ts = op->ts;
  sm.frame = NewSharedFrame(scratch_);
  engine_->Append(c, op, sm);
}

void Hub::OnDurable(ConvState* c, Op* op, const StoredMsg& m, bool ok) {
  DedupRecord r;
  r.kind = kDedupRecord;
  r.user = op->user;
  r.cmid = op->cmid;
  r.ok = ok;
  r.conv = c->id;
  r.seq = m.seq;
  r.ts = m.ts;
  if (!ok) {
    SendError(op->origin, int(ErrorCode::kInternal), "the message could not be stored");
  } else {
    if (m.seq > c->durable_seq) c->durable_seq = m.seq;
    SendAck(op, c->id, m.seq, m.ts, false, op->created_us);
    if (!c->group && m.seq == 1) {
      ForEachMember(c, [&](std::string_view u) { IndexConv(std::string(u), c->id, true); });
    }
    FanOut(c, m.frame, op->origin.http ? nullptr : &op->origin.conn, &c->id, m.seq,
           op->created_us);
  }
  // The cmid's record after the answer: repeats that waited for it (their
  // dup acks) come after the first one's ack. Until it lands, the user's
  // owner keeps the cmid in flight, so a repeat sent meanwhile waits too.
  const int owner = UserOwner(r.user);
  if (owner == id_) {
    OnDedupRecord(&r);  // what Post would do at once, without the allocation
  } else {
    Post(owner, new DedupRecord(std::move(r)));
  }
  delete op;
  // A batch of group messages becomes many megabytes of output: write it as
  // it builds up (net::Shard::FlushIfDue) rather than all at the turn's end.
  if (ok) shard_->FlushIfDue();
}

void Hub::OnStateDurable(Op* op, bool ok) {
  if (ok) {
    if (op->type == OpType::kJoin || op->type == OpType::kLeave) {
      SendOk(op->origin);
    } else {
      SendReply(op->origin, std::move(op->reply));
    }
  } else if (!SilentWithoutId(op)) {
    SendError(op->origin, int(ErrorCode::kInternal), "the change could not be stored");
  }
  delete op;
}

size_t Hub::FanOut(const ConvState* c, net::SharedBuf* frame, const ConnRef* except,
                   const std::string* track_conv, uint64_t seq, uint64_t created_us) {
  // The vector is kept between calls; a call made while this one posts (a
  // Post to this shard runs at once) finds it taken and makes its own.
  std::vector<Push*> pushes;
  pushes.swap(fanout_);
  pushes.assign(size_t(n_), nullptr);
  // The Push to this shard's connections is handled in place (as Post would
  // at once) and kept, unless a nested call has it.
  std::unique_ptr<Push> local = std::move(local_push_);
  if (!local) local = std::make_unique<Push>();
  size_t conns = 0;
  ForEachMember(c, [&](std::string_view u) {
    auto it = presence_.find(u);
    if (it == presence_.end()) return;
    for (const auto& [device, ref] : it->second.devices) {
      if (except != nullptr && ref == *except) continue;
      Push*& p = pushes[ref.shard];
      if (p == nullptr) {
        p = ref.shard == id_ ? local.get() : new Push();
        p->kind = kPush;
        p->frame = frame;
        frame->Ref();
        if (track_conv != nullptr) p->conv = *track_conv;
        p->seq = seq;
        p->created_us = created_us;
      }
      p->conns.push_back(ref);
      conns++;
    }
  });
  for (int i = 0; i < n_; i++) {
    Push* p = pushes[size_t(i)];
    if (p == nullptr) continue;
    if (p != local.get()) {
      Post(i, p);
      continue;
    }
    OnPush(p);
    p->frame->Unref();
    p->frame = nullptr;
    p->conns.clear();
    p->conv.clear();
  }
  if (!local_push_) local_push_ = std::move(local);  // else a nested call kept its own
  fanout_.swap(pushes);
  return conns;
}

void Hub::MoveCursor(ConvState* c, Op* op, bool recv, uint64_t seq) {
  // Above the last counts as the last (the last stored: a cursor is never
  // ahead of what survives a crash).
  if (seq > c->durable_seq) seq = c->durable_seq;
  auto it = c->cursors.try_emplace(DeviceKey(op->user, op->device)).first;
  Cursor& cur = it->second;
  uint64_t& field = recv ? cur.recv : cur.read;
  if (seq <= field) return;  // cursors only move forward
  field = seq;
  engine_->CursorMoved(c, it->first, cur);
  if (c->group && c->members.size() > opts_.receipt_group_limit) return;
  scratch_.clear();
  proto::AppendReceipt(&scratch_, c->id, seq, op->user,
                       recv ? proto::ReceiptKind::kDelivered : proto::ReceiptKind::kRead);
  net::SharedBuf* f = NewSharedFrame(scratch_);
  receipts_ += FanOut(c, f, &op->origin.conn, nullptr, 0, 0);
  f->Unref();
}

void Hub::DoCursor(Op* op) {
  ConvState* c = Authorize(op, false);
  if (c == nullptr) {
    // An error was answered, or a direct conversation without messages: a
    // cursor there cannot move (its last seq is 0).
    proto::ConvId id;
    if (proto::ParseConv(op->conv, &id) && id.kind == proto::ConvKind::kDirect &&
        (id.a == op->user || id.b == op->user) && !SilentWithoutId(op)) {
      SendOk(op->origin);
    }
    return;
  }
  MoveCursor(c, op, op->type == OpType::kRecv, op->seq);
  if (!SilentWithoutId(op)) SendOk(op->origin);
}

void Hub::BuildPage(std::string* out, const Origin& o, ConvState* c, const Op* op) {
  proto::BeginPage(out, o.http || !o.has_id ? std::nullopt : proto::FrameId(o.id), op->conv);
  bool more = false;
  std::optional<uint64_t> first;
  if (c != nullptr && c->durable_seq > 0) {
    const uint64_t last = c->durable_seq;
    std::vector<StoredMsg> items;
    uint64_t kept = engine_->FirstSeq(c);
    if (op->has_before) {
      uint64_t hi = op->before == 0 ? 0 : std::min(op->before - 1, last);
      // `more` comes from the engine, not from seq arithmetic: seqs may be
      // missing (a recovery cut in the middle of the log), and a page must
      // never say more with nothing more to return.
      if (hi >= kept) more = engine_->Read(c, kept, hi, op->limit, true, &items);
    } else {
      // (after may be as high as 2^64 - 1: no after + 1 that wraps.)
      const bool above = op->after < last;  // there are seqs above after
      uint64_t lo = above ? std::max(op->after + 1, kept) : last + 1;
      if (above) more = engine_->Read(c, lo, last, op->limit, false, &items);
    }
    // Section 6: "the page then says first (only when something below it
    // was dropped)": on every page of a conversation that lost messages.
    if (kept > 1) first = kept;
    for (const StoredMsg& m : items) {
      if (out->back() != '[') out->push_back(',');
      out->push_back('{');
      out->append(reinterpret_cast<const char*>(m.frame->payload()) + kMsgPrefix,
                  m.frame->payload_len() - kMsgPrefix);
      m.frame->Unref();
    }
  }
  proto::EndPage(out, more, first);
}

void Hub::DoPull(Op* op) {
  ConvState* c;
  if (op->origin.http) {
    proto::ConvId id;
    if (!proto::ParseConv(op->conv, &id)) {
      SendError(op->origin, int(ErrorCode::kBadRequest), "invalid conv");
      return;
    }
    c = FindConv(op->conv);
    if (id.kind == proto::ConvKind::kGroup && c == nullptr) {
      SendError(op->origin, int(ErrorCode::kNotFound), "no such group");
      return;
    }
  } else {
    c = Authorize(op, false);
    if (c == nullptr) {
      proto::ConvId id;
      bool empty_direct = proto::ParseConv(op->conv, &id) &&
                          id.kind == proto::ConvKind::kDirect &&
                          (id.a == op->user || id.b == op->user);
      if (!empty_direct) return;  // the error was answered
    }
    if (c != nullptr && op->has_after && op->after > 0) MoveCursor(c, op, true, op->after);
  }
  std::string out;
  BuildPage(&out, op->origin, c, op);
  SendReply(op->origin, std::move(out));
}

bool Hub::DoJoinLeave(Op* op) {
  proto::ConvId id;
  if (!proto::ParseConv(op->conv, &id) || id.kind != proto::ConvKind::kGroup) {
    if (!SilentWithoutId(op)) SendError(op->origin, int(ErrorCode::kBadRequest), "not a group");
    return false;
  }
  ConvState* c = FindConv(op->conv);
  if (c == nullptr || !c->exists) {
    if (op->type == OpType::kLeave) {
      SendOk(op->origin);  // "leave any group ... leaving when not one: ok"
    } else if (!SilentWithoutId(op)) {
      SendError(op->origin, int(ErrorCode::kNotFound), "no such group");
    }
    return false;
  }
  bool member = c->members.count(op->user) > 0;
  GroupChange ch;
  if (op->type == OpType::kJoin && !member) {
    if (!c->open) {
      if (!SilentWithoutId(op)) {
        SendError(op->origin, int(ErrorCode::kForbidden), "the group is not open");
      }
      return false;
    }
    c->members.insert(op->user);
    IndexConv(op->user, c->id, true);
    ch.add.push_back(op->user);
  } else if (op->type == OpType::kLeave && member) {
    c->members.erase(op->user);
    IndexConv(op->user, c->id, false);
    ch.remove.push_back(op->user);
  } else {
    SendOk(op->origin);  // nothing changes
    return false;
  }
  engine_->GroupChanged(c, ch, op);  // answered once durable
  return true;
}

bool Hub::DoGroupAdmin(Op* op) {
  if (op->type != OpType::kGroupCreate) {
    // Looked up, not created: a get, delete or members call on a group that
    // never existed must leave it unknown (its history stays 404).
    ConvState* found = FindConv(op->conv);
    if (found == nullptr || !found->exists) {
      SendError(op->origin, int(ErrorCode::kNotFound), "no such group");
      return false;
    }
  }
  ConvState& c = GetConv(op->conv);
  std::string_view name = std::string_view(op->conv).substr(2);
  std::string out;
  GroupChange ch;
  switch (op->type) {
    case OpType::kGroupCreate:
      if (c.exists) {
        // 409 with code bad_request (PROTOCOL.md section 9).
        SendError(op->origin, int(ErrorCode::kBadRequest), "group exists", 409);
        return false;
      }
      c.exists = true;
      c.open = op->open;
      for (const std::string& u : op->add) {
        if (c.members.insert(u).second) IndexConv(u, c.id, true);
      }
      ch.full = true;
      out = "{\"group\":";
      proto::AppendJsonString(&out, name);
      out += ",\"members\":";
      proto::AppendUint(&out, c.members.size());
      out += "}";
      break;
    case OpType::kGroupMembers:
    case OpType::kGroupGet:
    case OpType::kGroupDelete:
      if (op->type == OpType::kGroupMembers) {
        for (const std::string& u : op->add) {
          if (c.members.insert(u).second) {
            IndexConv(u, c.id, true);
            ch.add.push_back(u);
          }
        }
        for (const std::string& u : op->remove) {
          if (c.members.erase(u) > 0) {
            IndexConv(u, c.id, false);
            ch.remove.push_back(u);
          }
        }
        out = "{\"members\":";
        proto::AppendUint(&out, c.members.size());
        out += "}";
      } else if (op->type == OpType::kGroupGet) {
        std::vector<std::string> members(c.members.begin(), c.members.end());
        std::sort(members.begin(), members.end());
        out = "{\"group\":";
        proto::AppendJsonString(&out, name);
        out += c.open ? ",\"open\":true,\"members\":[" : ",\"open\":false,\"members\":[";
        for (size_t i = 0; i < members.size(); i++) {
          if (i > 0) out += ',';
          proto::AppendJsonString(&out, members[i]);
        }
        out += "]}";
      } else {
        for (const std::string& u : c.members) IndexConv(u, c.id, false);
        c.members.clear();
        c.exists = false;  // history and last_seq stay: a new group continues the sequence
        c.open = false;
        ch.full = true;
        out = "{}";
      }
      break;
    default:
      return false;
  }
  if (op->type == OpType::kGroupGet) {
    SendReply(op->origin, std::move(out));
    return false;
  }
  op->reply = std::move(out);
  engine_->GroupChanged(&c, ch, op);  // answered once durable
  return true;
}

void Hub::OnSyncQuery(SyncQuery* q) {
  auto* part = new SyncPart();
  part->kind = kSyncPart;
  part->token = q->token;
  std::string key = DeviceKey(q->user, q->device);
  for (const std::string& conv : q->convs) {
    ConvState* c = FindConv(conv);
    if (c == nullptr) continue;
    if (c->group && (!c->exists || c->members.count(q->user) == 0)) continue;
    if (!c->group && c->durable_seq == 0) continue;  // a direct one exists once it has a message
    Cursor cur;
    auto it = c->cursors.find(key);
    if (it != c->cursors.end()) cur = it->second;
    if (!q->all && c->durable_seq <= cur.recv) continue;
    part->entries.push_back(SyncEntry{conv, c->durable_seq, cur.recv, cur.read});
  }
  Post(q->reply_shard, part);
}

}  // namespace longlink::core
