// The messaging protocol (PROTOCOL.md sections 2 to 7), connection side, for
// /ws and (through sse_session.cc) SSE streams: the hello (JWT HS256 or,
// under --auth none, a user name), the rate limit, frame parsing, and handing
// each request to the shard's Hub in the order the connection sent them.
// Replies and pushes come back through the core::Sink methods at the end of
// this file, framed for the connection's transport.
#include "base/clock.h"
#include "base/log.h"
#include "net/shard.h"
#include "ws/frame_writer.h"
#include "proto/ids.h"
#include "proto/reply.h"
#include "auth/jwt.h"
#include "server/server.h"
#include "server/session.h"

namespace longlink::server {

using proto::CommandType;
using proto::ErrorCode;

namespace {

proto::FrameId IdOf(const proto::Command& cmd) {
  return cmd.has_id ? proto::FrameId(cmd.id) : std::nullopt;
}

// Section 1.1: every reply reflects all earlier frames of the connection.
// A send is answered once its message is stored (on the log: synced), and
// only then do pulls and syncs see it; so a pull or a sync that comes after
// a send still unanswered waits for the answer, and every frame after it
// waits too (frames are handled in order). A join or leave is answered once
// durable (section 8) and changes what a pull or sync may read, so they wait
// for it the same way: no reply shows a membership that a crash could still
// undo. The other frames go on at once (a send after a join is logged after
// it, so its ack implies the join is stored): a client that sends and acks
// pushes on one connection keeps its sends pipelined.
bool WaitsForSends(CommandType t) { return t == CommandType::kPull || t == CommandType::kSync; }

// Frames held per connection at most; more are answered `overloaded`.
constexpr size_t kMaxHeld = 1024;

}  // namespace

void Session::SendJson(Conn* c, std::string_view json) {
  if (c->kind == kSse) {
    SseWrite(c, json.data(), json.size());
  } else {
    SendFrame(c, ws::kText, reinterpret_cast<const uint8_t*>(json.data()), json.size());
  }
}

void Session::EndSession(Conn* c, uint16_t code, const char* reason) {
  if (c->kind == kSse) {
    CloseSse(c, code, reason);
  } else {
    CloseWs(c, code, reason);
  }
}

// A text or binary message on /ws. Returns false when the connection closes.
bool Session::OnImMessage(Conn* c, [[maybe_unused]] uint8_t opcode, uint8_t* data, size_t len) {
  LL_DCHECK(opcode == ws::kText);  // binary is refused at its first frame (WsHandler)
  // Rate: every data frame counts, hello included.
  core::RateLimiter::Decision d = limiter_.Take(&c->im->rate, shard_->now_ms());
  if (!d.allowed) {
    if (d.abuse) {
      shard_->metrics().rate_limit_closes_total.Add();
      CloseWs(c, ws::close_code::kRateAbuse, "rate limit abuse");
      return false;
    }
    // The frame is dropped, not executed; it is parsed only so that the
    // error carries its id (section 1.1: an error carries the request's id).
    proto::Command dropped;
    size_t cap = shard_->ReadableFrom(data);
    parser_->Parse(reinterpret_cast<const char*>(data), len, cap >= len ? cap : len, &dropped);
    SendRateLimited(c, dropped, d.retry_ms);
    return true;
  }
  proto::Command cmd;
  size_t cap = shard_->ReadableFrom(data);
  proto::ParseStatus st =
      parser_->Parse(reinterpret_cast<const char*>(data), len, cap >= len ? cap : len, &cmd);
  if (c->im->session == nullptr) {
    if (!st.ok() || cmd.type != CommandType::kHello) {
      scratch_.clear();
      proto::AppendError(&scratch_, st.ok() || cmd.has_id ? IdOf(cmd) : std::nullopt,
                         ErrorCode::kUnauthorized, "the first frame must be a valid hello");
      SendJson(c, scratch_);
      CloseWs(c, ws::close_code::kUnauthorized, "unauthorized");
      return false;
    }
    return OnHello(c, cmd);
  }
  HandleOrHold(c, st, cmd, reinterpret_cast<const char*>(data), len);
  return !c->draining();
}

void Session::HandleOrHold(Conn* c, const proto::ParseStatus& st, const proto::Command& cmd,
                           const char* data, size_t len) {
  if (!(c->user_flags & kHolding) &&
      (c->im->sends_in_flight == 0 || !st.ok() || !WaitsForSends(cmd.type))) {
    OnFrame(c, st, cmd);
    return;
  }
  std::deque<std::string>& q = held_[c];
  if (q.size() >= kMaxHeld) {
    scratch_.clear();
    proto::AppendError(&scratch_, cmd.has_id ? IdOf(cmd) : std::nullopt, ErrorCode::kOverloaded,
                       "too many requests waiting for earlier sends");
    SendJson(c, scratch_);
    return;
  }
  std::string& f = q.emplace_back();
  f.reserve(len + proto::CommandParser::kPadding);  // parsed in place later
  f.assign(data, len);
  c->user_flags |= kHolding;
}

void Session::SendDone(void* conn) {
  auto* c = static_cast<Conn*>(conn);
  if (c->im == nullptr || c->im->session == nullptr) return;
  LL_DCHECK(c->im->sends_in_flight > 0);
  if (c->im->sends_in_flight > 0) c->im->sends_in_flight--;
  if ((c->user_flags & kHolding) && c->im->sends_in_flight == 0) ReleaseHeld(c);
}

void Session::ReleaseHeld(Conn* c) {
  // A frame handled here may be answered at once (an error, a dup), which
  // calls SendDone and so this again for the same connection: the loop
  // below goes on with what that call would do.
  if (releasing_ == c) return;
  Conn* outer = releasing_;
  releasing_ = c;
  for (;;) {
    auto it = held_.find(c);  // found again each time: OnFrame may close c
    if (it == held_.end()) break;
    if (it->second.empty() || c->closed() || c->draining() || c->im == nullptr) {
      held_.erase(it);
      break;
    }
    std::string f = std::move(it->second.front());
    it->second.pop_front();
    proto::Command cmd;
    proto::ParseStatus st = parser_->Parse(f.data(), f.size(), f.capacity(), &cmd);
    if (c->im->sends_in_flight > 0 && st.ok() && WaitsForSends(cmd.type)) {
      it->second.push_front(std::move(f));  // still waits: a send released before it is out
      break;
    }
    OnFrame(c, st, cmd);  // (holds nothing: only HandleOrHold holds)
  }
  if (held_.find(c) == held_.end()) c->user_flags &= uint8_t(~kHolding);
  releasing_ = outer;
}

void Session::SendRateLimited(Conn* c, const proto::Command& dropped, uint32_t retry_ms) {
  shard_->metrics().rate_limited_total.Add();
  scratch_.clear();
  proto::AppendRateLimited(&scratch_, dropped.has_id ? IdOf(dropped) : std::nullopt, retry_ms);
  SendJson(c, scratch_);
}

void Session::OnFrame(Conn* c, const proto::ParseStatus& st, const proto::Command& cmd) {
  if (st.unless_dup) {
    SubmitSend(c, cmd, &st);
    return;
  }
  if (!st.ok()) {
    scratch_.clear();
    proto::AppendError(&scratch_, cmd.has_id ? IdOf(cmd) : std::nullopt, st.code, st.msg);
    SendJson(c, scratch_);
    return;
  }
  OnCommand(c, cmd);
}

proto::ParseStatus Session::Authenticate(const proto::HelloArgs& hello, std::string* user) {
  bool jwt = cfg_.auth == AuthMode::kJwt;
  proto::ParseStatus st =
      proto::CheckHello(hello, jwt ? proto::HelloAuth::kToken : proto::HelloAuth::kUserName);
  if (!st.ok()) return st;
  if (!jwt) {
    user->assign(hello.user_value);
    return st;
  }
  auth::Claims claims;
  auth::JwtError err =
      auth::VerifyHs256(hello.token_value, cfg_.jwt_secret, int64_t(WallMs() / 1000), &claims);
  if (err != auth::JwtError::kOk) {
    LL_DEBUG("shard %d: hello refused: %s", shard_->id(),
             std::string(auth::JwtErrorName(err)).c_str());
    return {ErrorCode::kUnauthorized, "invalid token"};
  }
  if (!proto::IsValidId(claims.sub)) {
    return {ErrorCode::kUnauthorized, "the token's sub is not a valid user id"};
  }
  user->assign(claims.sub);
  return st;
}

bool Session::OnHello(Conn* c, const proto::Command& cmd) {
  std::string user;
  proto::ParseStatus st = Authenticate(cmd.hello, &user);
  if (!st.ok()) {
    scratch_.clear();
    proto::AppendError(&scratch_, IdOf(cmd), st.code, st.msg);
    SendJson(c, scratch_);
    CloseWs(c, ws::close_code::kUnauthorized, "hello refused");
    return false;
  }
  // The welcome comes from the user's owner once the session is registered.
  c->im->session = hub_->OpenSession(c, user, cmd.hello.device_value, cmd.has_id, cmd.id);
  shard_->metrics().sessions.Add();
  return true;
}

void Session::OnCommand(Conn* c, const proto::Command& cmd) {
  core::Session* s = c->im->session;
  auto fill_origin = [&](core::Op* op) {
    op->origin.has_id = cmd.has_id;
    op->origin.id = cmd.id;
  };
  core::Op* op = nullptr;
  switch (cmd.type) {
    case CommandType::kHello:
      scratch_.clear();
      proto::AppendError(&scratch_, IdOf(cmd), ErrorCode::kBadRequest, "already said hello");
      SendJson(c, scratch_);
      return;
    case CommandType::kPing:
      scratch_.clear();
      proto::AppendPong(&scratch_, IdOf(cmd), int64_t(WallMs()));
      SendJson(c, scratch_);
      return;
    case CommandType::kPresence: {
      std::vector<std::string_view> users(cmd.users.begin(), cmd.users.end());
      core::Origin o;
      o.has_id = cmd.has_id;
      o.id = cmd.id;
      scratch_.clear();
      hub_->AppendPresence(&scratch_, o, users, false);
      SendJson(c, scratch_);
      return;
    }
    case CommandType::kWatch: {
      std::vector<std::string_view> users(cmd.users.begin(), cmd.users.end());
      hub_->Watch(s, users);
      if (cmd.has_id) {
        scratch_.clear();
        proto::AppendOk(&scratch_, cmd.id);
        SendJson(c, scratch_);
      }
      return;
    }
    case CommandType::kSend:
      SubmitSend(c, cmd, nullptr);
      return;
    case CommandType::kRecv:
    case CommandType::kRead:
      op = new core::Op();
      op->type = cmd.type == CommandType::kRecv ? core::OpType::kRecv : core::OpType::kRead;
      op->conv.assign(cmd.conv);
      op->seq = cmd.seq;
      break;
    case CommandType::kPull:
      op = new core::Op();
      op->type = core::OpType::kPull;
      op->conv.assign(cmd.conv);
      op->has_after = cmd.has_after;
      op->after = cmd.after;
      op->has_before = cmd.has_before;
      op->before = cmd.before;
      op->limit = cmd.limit;
      break;
    case CommandType::kSync:
      op = new core::Op();
      op->type = core::OpType::kSync;
      op->all = cmd.all;
      break;
    case CommandType::kJoin:
    case CommandType::kLeave:
      op = new core::Op();
      op->type = cmd.type == CommandType::kJoin ? core::OpType::kJoin : core::OpType::kLeave;
      op->conv.assign(cmd.conv);
      break;
  }
  if (op == nullptr) return;
  fill_origin(op);
  if (op->type == core::OpType::kJoin || op->type == core::OpType::kLeave) {
    op->origin.send = true;
    c->im->sends_in_flight++;
  }
  hub_->Submit(s, op);
}

void Session::SubmitSend(Conn* c, const proto::Command& cmd, const proto::ParseStatus* refused) {
  auto* op = new core::Op();
  op->type = core::OpType::kSend;
  op->origin.has_id = cmd.has_id;
  op->origin.id = cmd.id;
  op->cmid.assign(cmd.cmid);
  if (refused != nullptr) {
    // Answered with this error unless the cmid is a repeat (section 4).
    op->refused = int(refused->code);
    op->refused_msg = refused->msg;
  } else {
    if (cmd.to.kind == proto::DestKind::kUser) {
      proto::AppendDirectConv(&op->conv, c->im->session->user, cmd.to.name);
    } else {
      proto::AppendGroupConv(&op->conv, cmd.to.name);
    }
    op->body.assign(cmd.body);
    op->ephemeral = cmd.ephemeral;
    shard_->metrics().messages_in_total.Add();
  }
  op->created_us = MonoNs() / 1000;
  op->origin.send = true;
  c->im->sends_in_flight++;
  hub_->Submit(c->im->session, op);
}

void Session::CloseIm(Conn* c) {
  if (c->im == nullptr) return;
  if (c->user_flags & kHolding) held_.erase(c);
  if (c->im->session != nullptr) {
    if (c->kind == kSse) sse_.erase(c->im->session->id);
    hub_->CloseSession(c->im->session);
    shard_->metrics().sessions.Sub();
  }
  delete c->im;
  c->im = nullptr;
}

// --- core::Sink

void Session::Write(void* conn, std::string_view json) {
  auto* c = static_cast<Conn*>(conn);
  if (c->closed() || (c->user_flags & kCloseSent)) return;
  SendJson(c, json);
}

void Session::WriteShared(void* conn, net::SharedBuf* json) {
  auto* c = static_cast<Conn*>(conn);
  if (c->closed() || (c->user_flags & kCloseSent)) return;
  // A slow consumer loses nothing: the client syncs when it is back.
  if (!OutbufOk(c)) return;
  shard_->metrics().deliveries_total.Add();
  if (c->kind == kSse) {
    SseWriteShared(c, json);
    return;
  }
  // Built with its WebSocket header in front (core::NewSharedFrame).
  LL_DCHECK(json->head > 0);
  shard_->SendShared(c, nullptr, 0, json, 0, json->len);
  shard_->metrics().ws_frames_out_total.Add();
}

void Session::Close(void* conn, uint16_t code, const char* reason) {
  EndSession(static_cast<Conn*>(conn), code, reason);
}

}  // namespace longlink::server
