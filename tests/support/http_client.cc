// HttpClient: a small strict response reader. It accepts only what a correct
// server sends ("HTTP/1.x NNN reason\r\n", "Name: value\r\n" headers), so a
// malformed response fails the test that received it.
#include "support/http_client.h"

#include <cctype>
#include <cstdlib>

namespace longlink::test {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (tolower(uint8_t(a[i])) != tolower(uint8_t(b[i])))
      return false;
  }
  return true;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

double SumMetric(const std::string& body, const std::string& name) {
  double sum = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t eol = body.find('\n', pos);
    if (eol == std::string::npos)
      eol = body.size();
    std::string line = body.substr(pos, eol - pos);
    pos = eol + 1;
    if (StartsWith(line, name) && line.size() > name.size() &&
        (line[name.size()] == '{' || line[name.size()] == ' ')) {
      size_t sp = line.rfind(' ');
      sum += std::stod(line.substr(sp + 1));
    }
  }
  return sum;
}

int64_t FetchMetricSum(uint16_t port, std::string_view name) {
  HttpResponse r;
  if (!Fetch(port, "GET", "/metrics", &r))
    return -1;
  return int64_t(SumMetric(r.body, "longlink_" + std::string(name)));
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name))
      return v;
  }
  return {};
}

bool HttpResponse::HasHeader(std::string_view name) const {
  return HeaderCount(name) > 0;
}

int HttpResponse::HeaderCount(std::string_view name) const {
  int n = 0;
  for (const auto& h : headers) n += EqualsIgnoreCase(h.first, name);
  return n;
}

namespace {

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

bool ParseHead(const std::string& head, HttpResponse* r, std::string* err) {
  size_t eol = head.find("\r\n");
  std::string_view line(head.data(), eol);
  if (!StartsWith(line, "HTTP/1.") || line.size() < 12 || line[8] != ' ' ||
      !isdigit(uint8_t(line[9])) || !isdigit(uint8_t(line[10])) || !isdigit(uint8_t(line[11])) ||
      (line.size() > 12 && line[12] != ' ')) {
    *err = "bad status line: " + std::string(line);
    return false;
  }
  r->version = std::string(line.substr(0, 8));
  r->status = atoi(std::string(line.substr(9, 3)).c_str());
  r->reason = line.size() > 13 ? std::string(line.substr(13)) : "";
  size_t pos = eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == pos)
      break;  // the empty line
    std::string_view h(head.data() + pos, end - pos);
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      *err = "bad header line: " + std::string(h);
      return false;
    }
    r->headers.emplace_back(std::string(h.substr(0, colon)), Trim(h.substr(colon + 1)));
    pos = end + 2;
  }
  return true;
}

}  // namespace

bool HttpClient::ReadResponse(HttpResponse* out, bool head_request, Duration timeout) {
  *out = HttpResponse();
  auto deadline = Clock::now() + timeout;
  std::string head;
  IoStatus s = conn_.ReadUntil("\r\n\r\n", &head, timeout);
  if (s != IoStatus::kOk) {
    error_ = "reading the response head: " + std::string(s == IoStatus::kEof ? "eof" : "timeout");
    if (!conn_.buffer().empty())
      error_ += " after partial: " + conn_.buffer();
    return false;
  }
  out->raw_head = head;
  if (!ParseHead(head, out, &error_))
    return false;
  if (head_request || out->status / 100 == 1 || out->status == 204 || out->status == 304) {
    return true;
  }
  std::string cl = out->Header("Content-Length");
  if (EqualsIgnoreCase(out->Header("Transfer-Encoding"), "chunked")) {
    return ReadChunked(&out->body, deadline);
  }
  if (!cl.empty()) {
    char* end = nullptr;
    unsigned long long n = strtoull(cl.c_str(), &end, 10);
    if (*end != '\0') {
      error_ = "bad Content-Length: " + cl;
      return false;
    }
    s = conn_.FillTo(n, deadline);
    if (s != IoStatus::kOk) {
      error_ = "body shorter than Content-Length";
      return false;
    }
    out->body = conn_.buffer().substr(0, n);
    conn_.buffer().erase(0, n);
    return true;
  }
  // Neither: the body runs to EOF.
  if (!conn_.WaitClosed(Duration(MsLeft(deadline)))) {
    error_ = "no Content-Length and no EOF";
    return false;
  }
  out->body = std::move(conn_.buffer());
  conn_.buffer().clear();
  return true;
}

bool HttpClient::ReadChunked(std::string* body, Clock::time_point deadline) {
  for (;;) {
    std::string line;
    if (conn_.ReadUntil("\r\n", &line, Duration(MsLeft(deadline))) != IoStatus::kOk) {
      error_ = "chunk size line";
      return false;
    }
    unsigned long n = strtoul(line.c_str(), nullptr, 16);
    if (n == 0) {
      // Trailers (none expected) end with an empty line.
      for (;;) {
        if (conn_.ReadUntil("\r\n", &line, Duration(MsLeft(deadline))) != IoStatus::kOk) {
          error_ = "chunked trailer";
          return false;
        }
        if (line == "\r\n")
          return true;
      }
    }
    if (conn_.FillTo(n + 2, deadline) != IoStatus::kOk) {
      error_ = "chunk body";
      return false;
    }
    body->append(conn_.buffer(), 0, n);
    conn_.buffer().erase(0, n + 2);
  }
}

std::string Request(std::string_view method, std::string_view target, std::string_view extra,
                    std::string_view body) {
  std::string r;
  r.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  r.append(extra).append("\r\n").append(body);
  return r;
}

bool Fetch(uint16_t port, std::string_view method, std::string_view target, HttpResponse* out,
           std::string_view extra, std::string_view body) {
  HttpClient c;
  if (!c.Connect(port))
    return false;
  std::string headers(extra);
  headers += "Connection: close\r\n";
  if (!c.Send(Request(method, target, headers, body)))
    return false;
  return c.ReadResponse(out, method == "HEAD");
}

}  // namespace longlink::test
