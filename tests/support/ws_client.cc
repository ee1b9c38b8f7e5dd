// WsClient implementation: hand-written client-side framing (RFC 6455 5.2).
#include "support/ws_client.h"

#include <cstring>
#include <random>

#include "support/sha1.h"

namespace longlink::test {
namespace {

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

bool HasToken(std::string_view list, std::string_view token) {
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    std::string_view item =
        list.substr(pos, comma == std::string_view::npos ? list.npos : comma - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (EqualsIgnoreCase(item, token))
      return true;
    if (comma == std::string_view::npos)
      break;
    pos = comma + 1;
  }
  return false;
}

}  // namespace

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = uint8_t(s[i]);
    int n;
    uint32_t cp, min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + n >= s.size())
      return false;  // truncated sequence
    for (int k = 1; k <= n; ++k) {
      uint8_t cc = uint8_t(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        return false;
      cp = cp << 6 | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

int Frame::CloseCode() const {
  if (payload.size() < 2)
    return 1005;
  return uint8_t(payload[0]) << 8 | uint8_t(payload[1]);
}

std::string Frame::CloseReason() const {
  return payload.size() > 2 ? payload.substr(2) : "";
}

std::string EncodeFrame(uint8_t opcode, std::string_view payload, bool fin, bool mask,
                        uint8_t rsv) {
  std::string f;
  f.reserve(payload.size() + 14);
  f.push_back(char((fin ? 0x80 : 0) | rsv | (opcode & 0x0F)));
  uint8_t mbit = mask ? 0x80 : 0;
  uint64_t n = payload.size();
  if (n <= 125) {
    f.push_back(char(mbit | n));
  } else if (n <= 0xFFFF) {
    f.push_back(char(mbit | 126));
    f.push_back(char(n >> 8));
    f.push_back(char(n));
  } else {
    f.push_back(char(mbit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(char(n >> (8 * i)));
  }
  if (!mask) {
    f.append(payload);
    return f;
  }
  uint8_t key[4];
  uint64_t r = Rng()();
  for (int i = 0; i < 4; ++i) key[i] = uint8_t(r >> (8 * i));
  f.append(reinterpret_cast<char*>(key), 4);
  size_t start = f.size();
  f.append(payload);
  for (size_t i = 0; i < payload.size(); ++i) f[start + i] = char(f[start + i] ^ key[i & 3]);
  return f;
}

std::string ClosePayload(uint16_t code, std::string_view reason) {
  std::string p;
  p.push_back(char(code >> 8));
  p.push_back(char(code));
  p.append(reason);
  return p;
}

std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  auto& rng = Rng();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    memcpy(&s[i], &v, 8);
  }
  for (; i < n; ++i) s[i] = char(rng());
  return s;
}

std::string TextPayload(size_t n, uint32_t seed) {
  std::string s(n, ' ');
  for (size_t i = 0; i < n; ++i) s[i] = char('!' + (i * 7 + seed * 13 + i / 94) % 94);
  return s;
}

std::string NewKey() {
  return Base64(RandomBytes(16));
}

std::string UpgradeHeaders(std::string_view key) {
  std::string h = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  h.append(key).append("\r\nSec-WebSocket-Version: 13\r\n");
  return h;
}

IoStatus WsClient::Fail(std::string why) {
  error_ = std::move(why);
  return IoStatus::kError;
}

bool WsClient::Connect(uint16_t port, std::string_view path, std::string_view extra_headers,
                       std::string_view trailing) {
  if (!conn_.Connect(port)) {
    error_ = conn_.error();
    return false;
  }
  std::string key = NewKey();
  std::string req = Request("GET", path, UpgradeHeaders(key) + std::string(extra_headers));
  req.append(trailing);
  if (!conn_.SendAll(req)) {
    error_ = "sending the upgrade: " + conn_.error();
    return false;
  }
  std::string head;
  IoStatus s = conn_.ReadUntil("\r\n\r\n", &head);
  if (s != IoStatus::kOk) {
    error_ = "no handshake response: " + std::string(s == IoStatus::kEof ? "eof" : "timeout");
    return false;
  }
  // Reuse the HTTP parser on the head alone (a 101 has no body).
  HttpClient parse;
  parse.conn().buffer() = head;
  if (!parse.ReadResponse(&response_, /*head_request=*/true, 0ms)) {
    error_ = "bad handshake response: " + parse.error();
    return false;
  }
  if (response_.status != 101) {
    error_ = "handshake status " + std::to_string(response_.status) + ":\n" + head;
    return false;
  }
  if (!EqualsIgnoreCase(response_.Header("Upgrade"), "websocket") ||
      !HasToken(response_.Header("Connection"), "upgrade")) {
    error_ = "101 without Upgrade/Connection headers:\n" + head;
    return false;
  }
  if (response_.Header("Sec-WebSocket-Accept") != WsAcceptFor(key)) {
    error_ = "wrong Sec-WebSocket-Accept (want " + WsAcceptFor(key) + "):\n" + head;
    return false;
  }
  return true;
}

bool WsClient::Send(uint8_t opcode, std::string_view payload, bool fin) {
  return SendRaw(EncodeFrame(opcode, payload, fin));
}

bool WsClient::SendClose(uint16_t code, std::string_view reason) {
  return Send(op::kClose, ClosePayload(code, reason));
}

bool WsClient::SendRaw(std::string_view bytes, Duration timeout) {
  if (conn_.SendAll(bytes, timeout))
    return true;
  error_ = conn_.error();
  return false;
}

IoStatus WsClient::ReadFrame(Frame* f, Duration timeout) {
  auto deadline = Clock::now() + timeout;
  IoStatus s = conn_.FillTo(2, deadline);
  if (s != IoStatus::kOk)
    return s;
  std::string& b = conn_.buffer();
  uint8_t b0 = uint8_t(b[0]), b1 = uint8_t(b[1]);
  if (b1 & 0x80)
    return Fail("server frame is masked");
  uint64_t len = b1 & 0x7F;
  size_t hdr = 2;
  if (len == 126) {
    hdr = 4;
  } else if (len == 127) {
    hdr = 10;
  }
  if ((s = conn_.FillTo(hdr, deadline)) != IoStatus::kOk)
    return s;
  if (hdr == 4) {
    len = uint64_t(uint8_t(b[2])) << 8 | uint8_t(b[3]);
    if (len < 126)
      return Fail("server frame uses a non-minimal 16-bit length");
  } else if (hdr == 10) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = len << 8 | uint8_t(b[2 + i]);
    if (len >> 63)
      return Fail("server frame length has the top bit set");
    if (len <= 0xFFFF)
      return Fail("server frame uses a non-minimal 64-bit length");
  }
  f->fin = b0 & 0x80;
  f->rsv = b0 & 0x70;
  f->opcode = b0 & 0x0F;
  if (f->rsv)
    return Fail("server frame has RSV bits set");
  if (f->opcode > 2 && (f->opcode < 8 || f->opcode > 10)) {
    return Fail("server frame has reserved opcode " + std::to_string(f->opcode));
  }
  if (f->opcode >= 8 && (!f->fin || len > 125)) {
    return Fail("server control frame fragmented or over 125 bytes");
  }
  if ((s = conn_.FillTo(hdr + len, deadline)) != IoStatus::kOk)
    return s;
  f->payload.assign(b, hdr, len);
  b.erase(0, hdr + len);
  if (f->opcode == op::kClose && !f->payload.empty()) {
    int code = f->CloseCode();
    bool valid_code = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                      (code >= 3000 && code <= 4999);
    if (f->payload.size() == 1 || !valid_code) {
      return Fail("server close frame with an invalid payload (code " + std::to_string(code) +
                  ", " + std::to_string(f->payload.size()) + " bytes)");
    }
    if (!IsUtf8(f->CloseReason()))
      return Fail("server close reason is not UTF-8");
  }
  return IoStatus::kOk;
}

IoStatus WsClient::ReadMessage(Message* m, Duration timeout, std::vector<Frame>* controls) {
  auto deadline = Clock::now() + timeout;
  Frame f;
  for (;;) {
    IoStatus s = ReadFrame(&f, Duration(MsLeft(deadline)));
    if (s != IoStatus::kOk)
      return s;
    if (f.opcode == op::kClose) {
      m->opcode = op::kClose;
      m->data = std::move(f.payload);
      m->frames = 1;
      return IoStatus::kOk;
    }
    if (f.opcode >= 8) {
      if (controls)
        controls->push_back(std::move(f));
      continue;
    }
    if (f.opcode == op::kCont) {
      if (partial_opcode_ == 0)
        return Fail("server sent a continuation without a start");
    } else {
      if (partial_opcode_ != 0)
        return Fail("server started a message inside another");
      partial_opcode_ = f.opcode;
      partial_.clear();
      partial_frames_ = 0;
    }
    partial_.append(f.payload);
    ++partial_frames_;
    if (f.fin) {
      m->opcode = partial_opcode_;
      m->data = std::move(partial_);
      m->frames = partial_frames_;
      partial_opcode_ = 0;
      partial_.clear();
      return IoStatus::kOk;
    }
  }
}

int WsClient::ReadCloseCode(Duration timeout, size_t* skipped) {
  auto deadline = Clock::now() + timeout;
  Frame f;
  for (;;) {
    IoStatus s = ReadFrame(&f, Duration(MsLeft(deadline)));
    if (s == IoStatus::kEof)
      return kNoCloseEof;
    if (s == IoStatus::kTimeout)
      return kNoCloseTimeout;
    if (s != IoStatus::kOk)
      return kNoCloseBadFrame;
    if (f.opcode == op::kClose) {
      if (f.payload.size() == 1) {
        error_ = "server close frame with a 1-byte payload";
        return kNoCloseBadFrame;
      }
      return f.CloseCode();
    }
    if (skipped && f.opcode < 8)
      *skipped += f.payload.size();
  }
}

bool WsClient::ExpectEof(Duration timeout) {
  size_t before = conn_.buffer().size();
  bool closed = conn_.WaitClosed(timeout);
  if (conn_.buffer().size() != before) {
    error_ = std::to_string(conn_.buffer().size() - before) + " bytes after the close frame";
    return false;
  }
  if (!closed) {
    error_ = "TCP not closed in time";
    return false;
  }
  conn_.Close();
  return true;
}

bool WsClient::Echo(uint8_t opcode, std::string_view payload, Duration timeout) {
  if (!Send(opcode, payload))
    return false;
  Message m;
  IoStatus s = ReadMessage(&m, timeout);
  if (s != IoStatus::kOk) {
    if (s != IoStatus::kError) {
      error_ = std::string("no echo: ") + (s == IoStatus::kEof ? "eof" : "timeout");
    }
    return false;
  }
  if (m.opcode != opcode) {
    error_ = "echo opcode " + std::to_string(m.opcode) + ", want " + std::to_string(opcode);
    if (m.opcode == op::kClose) {
      Frame f;
      f.payload = m.data;
      error_ += " (close " + std::to_string(f.CloseCode()) + ")";
    }
    return false;
  }
  if (m.data != payload) {
    error_ = "echo differs: " + std::to_string(m.data.size()) + " bytes back, " +
             std::to_string(payload.size()) + " sent";
    return false;
  }
  return true;
}

}  // namespace longlink::test
