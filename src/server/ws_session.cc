// The WebSocket half of Session: frames in through ws::Receiver (parsed in
// place in the shard's read buffer), /echo, the close handshake, heartbeats
// and the slow-consumer rule of PROTOCOL.md section 7.
#include "base/log.h"
#include "net/shard.h"
#include "ws/frame_writer.h"
#include "server/server.h"
#include "server/session.h"

namespace longlink::server {

// Receiver callbacks for one connection (see ws/receiver.h).
struct WsHandler {
  Session* s;
  Conn* c;

  size_t max_message() const { return s->cfg_.max_message; }

  bool OnMessage(uint8_t opcode, uint8_t* data, size_t len) {
    auto& m = s->shard_->metrics();
    m.ws_frames_in_total.Add();
    m.ws_messages_in_total.Add();
    if (c->kind == kIm) return s->OnImMessage(c, opcode, data, len);
    if (!CheckOutbuf()) return false;
    s->SendFrame(c, opcode, data, len);
    return true;
  }
  bool OnMessageStart(uint8_t opcode) {
    // PROTOCOL.md 1.1: a binary frame on /ws closes 1003, at the header of
    // its first frame (before any payload of a fragmented one).
    if (c->kind == kIm && opcode == ws::kBinary) {
      s->CloseWs(c, ws::close_code::kUnsupportedData, "binary frames are not accepted");
      return false;
    }
    return true;
  }
  bool OnPing(uint8_t* data, size_t len) {
    s->shard_->metrics().ws_frames_in_total.Add();
    if (!CheckOutbuf()) return false;
    s->SendFrame(c, ws::kPong, data, len);
    return true;
  }
  bool OnPong(uint8_t*, size_t) {
    s->shard_->metrics().ws_frames_in_total.Add();
    return true;
  }
  bool OnClose(uint16_t code, const uint8_t*, size_t) {
    s->shard_->metrics().ws_frames_in_total.Add();
    if (c->user_flags & kCloseSent) {
      s->shard_->CloseNow(c);  // our close was answered: the handshake is done
    } else {
      // Echo the peer's code (RFC 6455 5.5.1); an empty close gets an empty one.
      c->user_flags |= kCloseSent;
      uint8_t payload[2] = {uint8_t(code >> 8), uint8_t(code)};
      s->SendFrame(c, ws::kClose, payload, code == ws::close_code::kNoStatus ? 0 : 2);
      s->shard_->CloseAfterFlush(c);
    }
    return false;
  }

  bool CheckOutbuf() { return s->OutbufOk(c); }
};

// Slow consumer (a WebSocket or an SSE stream): more unsent bytes than
// --max-outbuf when a new frame is due. (Checked before queueing, so one
// message as large as --max-message may be queued on a connection that was
// keeping up.) Stop producing for it, queue a 4008 close after what is
// pending, drop it once written or after the shard's drain deadline (10 s).
bool Session::OutbufOk(Conn* c) {
  if (c->pending_bytes() <= cfg_.max_outbuf) return true;
  shard_->metrics().slow_consumer_closes_total.Add();
  LL_DEBUG("shard %d: slow consumer (%zu bytes unsent), closing with 4008", shard_->id(),
           c->pending_bytes());
  EndSession(c, ws::close_code::kSlowConsumer, "slow consumer");
  return false;
}

void Session::OnWsData(Conn* c, uint8_t* data, size_t len) {
  c->user_flags &= uint8_t(~kPingSent);
  WsHandler h{this, c};
  uint16_t rc = c->rx.Consume(data, len, h);
  if (rc >= 1000) {
    shard_->metrics().ws_protocol_errors_total.Add();
    CloseWs(c, rc,
            rc == ws::close_code::kTooBig          ? "message too big"
            : rc == ws::close_code::kInvalidPayload ? "invalid UTF-8"
                                                    : "protocol error");
  }
}

void Session::SendFrame(Conn* c, uint8_t opcode, const uint8_t* data, size_t len) {
  uint8_t hdr[ws::kMaxHeaderSize];
  size_t hl = ws::WriteHeader(hdr, opcode, true, len, nullptr);
  iovec v[2] = {{hdr, hl}, {const_cast<uint8_t*>(data), len}};
  shard_->Send(c, v, len ? 2 : 1);
  shard_->metrics().ws_frames_out_total.Add();
}

void Session::CloseWs(Conn* c, uint16_t code, const char* reason) {
  if (c->user_flags & kCloseSent) return;
  c->user_flags |= kCloseSent;
  uint8_t payload[ws::kMaxControlPayload];
  size_t n = ws::WriteClosePayload(payload, code, reason);
  SendFrame(c, ws::kClose, payload, n);
  shard_->CloseAfterFlush(c);
}

void Session::TickWs(Conn* c, uint32_t now_ms) {
  if (c->kind == kIm && c->im != nullptr && c->im->session == nullptr &&
      now_ms - c->im->opened_ms >= cfg_.hello_timeout_s * 1000) {
    shard_->metrics().hello_timeouts_total.Add();
    CloseWs(c, ws::close_code::kHelloTimeout, "no hello in time");
    return;
  }
  uint64_t hb = cfg_.heartbeat_s * 1000;
  uint32_t silence = now_ms - c->last_rx_ms;
  if (silence >= 2 * hb) {
    shard_->metrics().heartbeat_closes_total.Add();
    CloseWs(c, ws::close_code::kGoingAway, "heartbeat timeout");
  } else if (silence >= hb && !(c->user_flags & kPingSent)) {
    c->user_flags |= kPingSent;
    shard_->metrics().ws_pings_sent_total.Add();
    SendFrame(c, ws::kPing, nullptr, 0);
  }
}

}  // namespace longlink::server
