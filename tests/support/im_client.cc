// ImClient over WsClient: the WebSocket side of reading frames (ReadWire);
// the waiting and the kept frames are FrameQueue's.
#include "support/im_client.h"

#include <cstdlib>

#include "support/jwt.h"

namespace longlink::test {
namespace {

std::string WithId(int64_t id) {
  return id < 0 ? std::string() : ",\"id\":" + std::to_string(id);
}

std::string WithDevice(std::string_view device) {
  return device.empty() ? std::string() : ",\"device\":" + JsonQuote(device);
}

}  // namespace

std::string HelloFrame(std::string_view user, std::string_view device, int64_t id) {
  return "{\"t\":\"hello\",\"v\":1,\"user\":" + JsonQuote(user) + WithDevice(device) + WithId(id) +
         "}";
}

std::string TokenHelloFrame(std::string_view token, std::string_view device, int64_t id) {
  return "{\"t\":\"hello\",\"v\":1,\"token\":" + JsonQuote(token) + WithDevice(device) +
         WithId(id) + "}";
}

std::string SendFrame(std::string_view to, std::string_view cmid, std::string_view body_json,
                      int64_t id) {
  return "{\"t\":\"send\"" + WithId(id) + ",\"to\":" + JsonQuote(to) +
         ",\"cmid\":" + JsonQuote(cmid) + ",\"body\":" + std::string(body_json) + "}";
}

bool ImClient::Connect(uint16_t port, std::string_view extra_headers) {
  if (!ws_.Connect(port, "/ws", extra_headers)) {
    error_ = "upgrade on /ws failed: " + ws_.error();
    return false;
  }
  ws_.conn().SetNoDelay();
  return true;
}

bool ImClient::Hello(std::string_view hello_frame) {
  if (!Send(hello_frame))
    return false;
  Json w;
  if (!Next(&w))
    return false;
  if (w.Str("t") != "welcome") {
    error_ = "expected a welcome, got " + w.raw();
    return false;
  }
  welcome_ = w;
  return true;
}

bool ImClient::Login(uint16_t port, std::string_view user, std::string_view device) {
  return Connect(port) && Hello(HelloFrame(user, device, 1));
}

bool ImClient::LoginToken(uint16_t port, std::string_view token, std::string_view device) {
  return Connect(port) && Hello(TokenHelloFrame(token, device, 1));
}

bool ImClient::Send(std::string_view text) {
  if (!ws_.SendText(text)) {
    error_ = "send failed: " + ws_.error() + " " + ws_.conn().error();
    return false;
  }
  return true;
}

bool ImClient::SendBinary(std::string_view bytes) {
  if (!ws_.SendBinary(bytes)) {
    error_ = "send failed: " + ws_.conn().error();
    return false;
  }
  return true;
}

bool ImClient::ReadWire(Json* out, Clock::time_point deadline) {
  if (close_code_ != 0 || dead_) {
    error_ = close_code_ != 0 ? "connection closed with " + std::to_string(close_code_)
                              : "connection is dead: " + error_;
    return false;
  }
  for (;;) {
    Message m;
    std::vector<Frame> controls;
    IoStatus s = ws_.ReadMessage(&m, Duration(MsLeft(deadline)), &controls);
    for (const Frame& c : controls) {
      if (c.opcode == op::kPing)
        ws_.Send(op::kPong, c.payload);
    }
    if (s == IoStatus::kTimeout) {
      error_ = "timeout waiting for a frame";
      return false;
    }
    if (s != IoStatus::kOk) {
      dead_ = true;
      error_ = s == IoStatus::kEof ? "EOF without a close frame" : "bad frame: " + ws_.error();
      return false;
    }
    if (m.opcode == op::kClose) {
      Frame f;
      f.opcode = op::kClose;
      f.payload = m.data;
      close_code_ = f.CloseCode();
      transcript_.push_back("<close " + std::to_string(close_code_) + ">");
      ws_.SendClose(uint16_t(close_code_ == 1005 ? 1000 : close_code_));
      error_ = "connection closed with " + std::to_string(close_code_) + " " + f.CloseReason();
      return false;
    }
    if (m.opcode != op::kText) {
      dead_ = true;
      error_ = "server sent a non-text data message";
      return false;
    }
    transcript_.push_back(m.data);
    std::string err;
    std::optional<Json> j = Json::Parse(m.data, &err);
    if (!j || !j->is_object()) {
      dead_ = true;
      error_ = "server frame is not a JSON object (" + err + "): " + m.data;
      return false;
    }
    *out = std::move(*j);
    return true;
  }
}

bool ImClient::Request(std::string_view frame, int64_t id, Json* reply, Duration timeout) {
  return Send(frame) && WaitId(id, reply, timeout);
}

int ImClient::WaitClose(Duration timeout) {
  if (close_code_ != 0)
    return close_code_;
  auto deadline = Clock::now() + timeout;
  for (;;) {
    Json j;
    if (ReadWire(&j, deadline)) {
      kept_.push_back(std::move(j));
      continue;
    }
    if (close_code_ != 0)
      return close_code_;
    if (dead_)
      return error_.rfind("EOF", 0) == 0 ? kNoCloseEof : kNoCloseBadFrame;
    return kNoCloseTimeout;
  }
}

void ImClient::Close(Duration timeout) {
  if (close_code_ == 0 && !dead_) {
    ws_.SendClose(1000);
    ws_.ReadCloseCode(timeout);
  }
  ws_.conn().Close();
  dead_ = true;
}

bool PlausibleTs(const Json& ts, int64_t slack_ms) {
  if (!ts.is_int())
    return false;
  return std::llabs(ts.as_int() - UnixMillis()) <= slack_ms;
}

}  // namespace longlink::test
