// SseClient over TcpConn (the stream) and HttpClient (the POSTs). The reader
// is deliberately stricter than an EventSource: the protocol promises one
// "data: <json>" line per event and ":" for the heartbeat, so anything else
// is reported rather than tolerated.
#include "support/sse_client.h"

#include <cstdlib>

namespace longlink::test {
namespace {

std::string Query(std::string_view name, std::string_view value, std::string_view device) {
  std::string q = std::string(name) + "=" + std::string(value);
  if (!device.empty())
    q += "&device=" + std::string(device);
  return q;
}

// Status line and header fields of `head` ("...\r\n\r\n") into *r.
bool ParseHead(const std::string& head, HttpResponse* r, std::string* err) {
  size_t eol = head.find("\r\n");
  std::string_view line(head.data(), eol);
  if (!StartsWith(line, "HTTP/1.1 ") || line.size() < 12) {
    *err = "bad status line: " + std::string(line);
    return false;
  }
  r->version = "HTTP/1.1";
  r->status = atoi(std::string(line.substr(9, 3)).c_str());
  r->reason = line.size() > 13 ? std::string(line.substr(13)) : "";
  r->raw_head = head;
  size_t pos = eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == pos)
      break;
    std::string_view h(head.data() + pos, end - pos);
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      *err = "bad header line: " + std::string(h);
      return false;
    }
    std::string_view v = h.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    r->headers.emplace_back(std::string(h.substr(0, colon)), std::string(v));
    pos = end + 2;
  }
  return true;
}

}  // namespace

std::string PostBytes(std::string_view session, std::string_view body, bool close) {
  std::string headers = "Content-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n";
  if (close)
    headers += "Connection: close\r\n";
  return Request("POST", "/send?session=" + std::string(session), headers, body);
}

bool SseClient::Open(uint16_t port, std::string_view query) {
  port_ = port;
  if (!stream_.Connect(port)) {
    error_ = "connect: " + stream_.error();
    return false;
  }
  stream_.SetNoDelay();
  std::string target = "/sse";
  if (!query.empty())
    target += "?" + std::string(query);
  if (!stream_.SendAll(test::Request("GET", target, "Accept: text/event-stream\r\n"))) {
    error_ = "sending GET /sse: " + stream_.error();
    return false;
  }
  std::string head;
  IoStatus s = stream_.ReadUntil("\r\n\r\n", &head);
  if (s != IoStatus::kOk) {
    error_ = "reading the GET /sse answer head failed";
    return false;
  }
  resp_ = HttpResponse();
  if (!ParseHead(head, &resp_, &error_))
    return false;
  if (resp_.status == 200)
    return true;
  // An error answer: its body by Content-Length.
  std::string cl = resp_.Header("Content-Length");
  size_t n = strtoul(cl.c_str(), nullptr, 10);
  if (stream_.FillTo(n, Clock::now() + kIoTimeout) != IoStatus::kOk) {
    error_ = "error body shorter than Content-Length";
    return false;
  }
  resp_.body = stream_.buffer().substr(0, n);
  stream_.buffer().erase(0, n);
  return true;
}

bool SseClient::ReadWelcome(Duration timeout) {
  if (resp_.status != 200) {
    error_ = "GET /sse answered " + std::to_string(resp_.status) + " " + resp_.body;
    return false;
  }
  if (resp_.Header("Content-Type") != "text/event-stream") {
    error_ = "Content-Type is " + resp_.Header("Content-Type");
    return false;
  }
  Json w;
  if (!Next(&w, timeout))
    return false;
  if (w.Str("t") != "welcome") {
    error_ = "expected a welcome first, got " + w.raw();
    return false;
  }
  welcome_ = w;
  return true;
}

bool SseClient::Login(uint16_t port, std::string_view user, std::string_view device) {
  return Open(port, Query("user", user, device)) && ReadWelcome();
}

bool SseClient::LoginToken(uint16_t port, std::string_view token, std::string_view device) {
  return Open(port, Query("token", token, device)) && ReadWelcome();
}

bool SseClient::ReadWire(Json* out, Clock::time_point deadline) {
  for (;;) {
    if (close_code_ != 0 || dead_) {
      error_ = close_code_ != 0 ? "stream closed with " + std::to_string(close_code_)
                                : "stream is dead: " + error_;
      return false;
    }
    std::string block;
    IoStatus s = stream_.ReadUntil("\n\n", &block, Duration(MsLeft(deadline)));
    if (s == IoStatus::kTimeout) {
      error_ = "timeout waiting for an event";
      return false;
    }
    if (s != IoStatus::kOk) {
      dead_ = true;
      eof_ = s == IoStatus::kEof;
      error_ = eof_ ? "EOF without a close event" : "read error";
      if (!stream_.buffer().empty())
        error_ += " (partial block: " + stream_.buffer() + ")";
      return false;
    }
    block.resize(block.size() - 2);
    transcript_.push_back(block);
    if (block == ":") {
      comments_++;
      last_comment_ = Clock::now();
      continue;
    }
    if (!StartsWith(block, "data: ") || block.find_first_of("\r\n") != std::string::npos) {
      dead_ = true;
      error_ = "not one data line: " + block;
      return false;
    }
    std::string err;
    std::optional<Json> j = Json::Parse(std::string_view(block).substr(6), &err);
    if (!j || !j->is_object()) {
      dead_ = true;
      error_ = "event data is not a JSON object (" + err + "): " + block;
      return false;
    }
    if (j->Str("t") == "close") {
      close_code_ = int(j->Int("code", -1));
      error_ = "stream closed with " + std::to_string(close_code_) + " " + j->Str("reason");
      return false;
    }
    *out = std::move(*j);
    return true;
  }
}

int SseClient::WaitEnd(Duration timeout) {
  auto deadline = Clock::now() + timeout;
  while (close_code_ == 0 && !dead_) {
    Json j;
    if (ReadWire(&j, deadline)) {
      kept_.push_back(std::move(j));
      continue;
    }
    if (close_code_ == 0 && !dead_)
      return -1;  // timeout
  }
  if (close_code_ != 0) {
    // Nothing may follow the close event but the end of the stream.
    if (!stream_.WaitClosed(Duration(MsLeft(deadline)))) {
      error_ = "no EOF after the close event";
      return -1;
    }
    if (!stream_.buffer().empty()) {
      error_ = "bytes after the close event: " + stream_.buffer();
      return -1;
    }
    return close_code_;
  }
  return eof_ ? 0 : -1;
}

int SseClient::Post(std::string_view frame, HttpResponse* resp) {
  if (!post_open_) {
    if (!post_.Connect(port_)) {
      error_ = "connecting for POST /send failed";
      return 0;
    }
    post_open_ = true;
  }
  HttpResponse r;
  if (!post_.Send(PostBytes(session(), frame)) || !post_.ReadResponse(&r)) {
    error_ = "POST /send failed: " + post_.error();
    return 0;
  }
  if (resp)
    *resp = r;
  return r.status;
}

bool SseClient::Request(std::string_view frame, int64_t id, Json* reply, Duration timeout) {
  int status = Post(frame);
  if (status != 202) {
    if (status != 0)
      error_ = "POST /send answered " + std::to_string(status);
    return false;
  }
  return WaitId(id, reply, timeout);
}

void SseClient::Close() {
  stream_.Close();
  post_.conn().Close();
  post_open_ = false;
  dead_ = true;
}

}  // namespace longlink::test
