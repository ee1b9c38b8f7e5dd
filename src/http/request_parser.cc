// RequestParser on top of llhttp 8. llhttp hands us the request in spans
// (method, URL, header names and values, body) that may be cut anywhere by the
// reads; we append each span to one buffer owned by Impl and remember offsets,
// and only when the request is complete do we turn the offsets into the views
// of Request (the buffer may move while it grows, the offsets do not).
//
// Pipelining: on_message_complete returns HPE_PAUSED, so llhttp_execute stops
// right after the request and llhttp_get_error_pos tells how far it read;
// Next() resumes it. An upgrade (Connection: upgrade + Upgrade, or CONNECT)
// ends in HPE_PAUSED_UPGRADE instead, at the end of the message: what follows
// is the WebSocket's.
//
// The header limit is enforced by never giving llhttp more bytes than are left
// of max_header_bytes until on_headers_complete has fired, so it counts every
// raw byte (padding whitespace included) and does not depend on the split.
#include "http/request_parser.h"

#include <algorithm>
#include <vector>

#include <llhttp.h>

#include "base/assert.h"

namespace longlink::http {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z')
      x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z')
      y = static_cast<unsigned char>(y + 32);
    if (x != y)
      return false;
  }
  return true;
}

Method MapMethod(uint8_t m) {
  switch (m) {
    case HTTP_GET:
      return Method::kGet;
    case HTTP_HEAD:
      return Method::kHead;
    case HTTP_POST:
      return Method::kPost;
    case HTTP_PUT:
      return Method::kPut;
    case HTTP_DELETE:
      return Method::kDelete;
    case HTTP_OPTIONS:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

// A modest first reservation: most requests on this path are an upgrade or a
// small API call (~300-600 bytes of headers).
constexpr size_t kInitialReserve = 1024;
// After a request that grew the buffer past this, Next() frees it rather than
// keep a large body's worth of memory on an idle keep-alive connection.
constexpr size_t kKeepCapacity = size_t{64} * 1024;

}  // namespace

std::string_view Request::Header(std::string_view name) const {
  for (size_t i = 0; i < header_count; ++i) {
    if (EqualsIgnoreCase(headers[i].name, name))
      return headers[i].value;
  }
  return {};
}

bool Request::HasHeader(std::string_view name) const {
  for (size_t i = 0; i < header_count; ++i) {
    if (EqualsIgnoreCase(headers[i].name, name))
      return true;
  }
  return false;
}

std::string_view Request::QueryParam(std::string_view key) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (param.size() >= key.size() && param.compare(0, key.size(), key) == 0) {
      if (param.size() == key.size())
        return {};  // "key" without '=': empty value
      if (param[key.size()] == '=')
        return param.substr(key.size() + 1);
    }
  }
  return {};
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    int hi = -1, lo = -1;
    if (s[i] == '%' && i + 2 < s.size()) {
      hi = HexValue(s[i + 1]);
      lo = HexValue(s[i + 2]);
    }
    if (hi >= 0 && lo >= 0) {
      out.push_back(char(hi * 16 + lo));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct RequestParser::Impl {
  // Offsets into buf_ of one header field; turned into a HeaderField at the end.
  struct Span {
    uint32_t name_off = 0, name_len = 0, value_off = 0, value_len = 0;
  };

  explicit Impl(const ParseLimits& l) : limits(l) {
    llhttp_settings_init(&settings);
    settings.on_message_begin = OnMessageBegin;
    settings.on_url = OnUrl;
    settings.on_header_field = OnHeaderField;
    settings.on_header_field_complete = OnHeaderFieldComplete;
    settings.on_header_value = OnHeaderValue;
    settings.on_headers_complete = OnHeadersComplete;
    settings.on_body = OnBody;
    settings.on_message_complete = OnMessageComplete;
    llhttp_init(&parser, HTTP_REQUEST, &settings);
    parser.data = this;
  }

  static Impl* From(llhttp_t* p) { return static_cast<Impl*>(p->data); }

  // Fails the request from inside a callback with our own status.
  int Fail(int status, const char* reason) {
    error_status = status;
    error_reason = reason;
    llhttp_set_error_reason(&parser, reason);
    return HPE_USER;
  }

  static int OnMessageBegin(llhttp_t* p) {
    From(p)->started = true;
    return 0;
  }

  static int OnUrl(llhttp_t* p, const char* at, size_t len) {
    Impl* self = From(p);
    self->buf.append(at, len);
    self->url_len += len;
    return 0;
  }

  static int OnHeaderField(llhttp_t* p, const char* at, size_t len) {
    Impl* self = From(p);
    if (self->headers_done)
      return 0;  // chunked trailers: read, not kept
    if (!self->in_field) {
      if (self->spans.size() >= self->limits.max_headers) {
        return self->Fail(431, "too many header fields");
      }
      self->in_field = true;
      Span s;
      s.name_off = static_cast<uint32_t>(self->buf.size());
      self->spans.push_back(s);
    }
    self->buf.append(at, len);
    self->spans.back().name_len += static_cast<uint32_t>(len);
    return 0;
  }

  static int OnHeaderFieldComplete(llhttp_t* p) {
    Impl* self = From(p);
    if (self->headers_done)
      return 0;
    self->in_field = false;
    self->spans.back().value_off = static_cast<uint32_t>(self->buf.size());
    return 0;
  }

  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
    Impl* self = From(p);
    if (self->headers_done)
      return 0;
    self->buf.append(at, len);
    self->spans.back().value_len += static_cast<uint32_t>(len);
    return 0;
  }

  static int OnHeadersComplete(llhttp_t* p) {
    Impl* self = From(p);
    self->headers_done = true;
    // Refuse a declared body before reading any of it.
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > self->limits.max_body) {
      self->Fail(413, "content-length over the limit");
      return -1;
    }
    // RFC 9110 10.1.1: an HTTP/1.1 client that sent "Expect: 100-continue"
    // may wait for a 100 before sending the body (curl waits a second).
    const bool body_follows =
        (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
    if (body_follows && (p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1))) {
      for (const Span& s : self->spans) {
        std::string_view name(self->buf.data() + s.name_off, s.name_len);
        std::string_view value(self->buf.data() + s.value_off, s.value_len);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
          value.remove_suffix(1);
        }
        if (EqualsIgnoreCase(name, "Expect") && EqualsIgnoreCase(value, "100-continue")) {
          self->expect_continue = true;
        }
      }
      // The head, readable before the body (TakeContinue), to answer at once
      // what the head decides (a missing API key).
      if (self->expect_continue) self->BuildRequest(false);
    }
    return 0;
  }

  static int OnBody(llhttp_t* p, const char* at, size_t len) {
    Impl* self = From(p);
    if (self->body_len + len > self->limits.max_body) {
      return self->Fail(413, "body over the limit");
    }
    if (self->body_len == 0)
      self->body_off = self->buf.size();
    self->buf.append(at, len);
    self->body_len += len;
    return 0;
  }

  static int OnMessageComplete(llhttp_t* p) {
    Impl* self = From(p);
    self->keep_alive = llhttp_should_keep_alive(p) != 0;
    // An upgrade stops by itself with HPE_PAUSED_UPGRADE; pausing here as
    // well would need a second resume to get there.
    return p->upgrade ? 0 : HPE_PAUSED;
  }

  State Complete(bool upgrade);
  void BuildRequest(bool upgrade);
  State Error(llhttp_errno_t err);

  ParseLimits limits;
  llhttp_settings_t settings;
  llhttp_t parser;

  // Invariant: buf holds the URL, then header names and values in arrival
  // order, then the body; the offsets below index into it.
  std::string buf;
  size_t url_len = 0;
  size_t body_off = 0, body_len = 0;
  std::vector<Span> spans;
  bool in_field = false;

  size_t header_bytes = 0;  // raw bytes fed while !headers_done
  bool headers_done = false;
  bool expect_continue = false;  // to be answered "100 Continue" (TakeContinue)
  bool started = false;
  bool keep_alive = true;
  State state = State::kNeedMore;
  int error_status = 0;
  const char* error_reason = nullptr;

  Request request;
  std::vector<HeaderField> fields;
};

RequestParser::State RequestParser::Impl::Complete(bool upgrade) {
  BuildRequest(upgrade);
  started = false;
  state = State::kComplete;
  return state;
}

void RequestParser::Impl::BuildRequest(bool upgrade) {
  Request& r = request;
  r = Request();
  r.method = MapMethod(parser.method);
  r.method_name = llhttp_method_name(static_cast<llhttp_method_t>(parser.method));
  r.target = std::string_view(buf.data(), url_len);
  size_t q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string_view::npos)
    r.query = r.target.substr(q + 1);
  r.http_major = parser.http_major;
  r.http_minor = parser.http_minor;
  r.keep_alive = keep_alive;
  r.upgrade = upgrade;
  if (body_len)
    r.body = std::string_view(buf.data() + body_off, body_len);
  fields.clear();
  fields.reserve(spans.size());
  for (const Span& s : spans) {
    // llhttp drops the whitespace before a value but keeps what follows it,
    // which RFC 9110 5.5 says is not part of the value.
    std::string_view value(buf.data() + s.value_off, s.value_len);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    fields.push_back({std::string_view(buf.data() + s.name_off, s.name_len), value});
  }
  r.headers = fields.data();
  r.header_count = fields.size();
}

RequestParser::State RequestParser::Impl::Error(llhttp_errno_t err) {
  // A request refused after its headers (a body over the limit) keeps its
  // request line and headers readable, without the body: the API answers a
  // missing key before the size (PROTOCOL.md 9).
  if (headers_done) {
    BuildRequest(false);
    request.body = {};
  } else {
    request = Request();
  }
  if (error_status == 0) {
    error_status = 400;
    error_reason =
        err == HPE_PAUSED_H2_UPGRADE ? "HTTP/2 preface" : llhttp_get_error_reason(&parser);
    if (error_reason == nullptr)
      error_reason = llhttp_errno_name(err);
  }
  state = State::kError;
  return state;
}

RequestParser::RequestParser(const ParseLimits& limits) : impl_(std::make_unique<Impl>(limits)) {}

RequestParser::~RequestParser() = default;

// REQUIRES: Next() after kComplete before more bytes are fed (a caller bug,
// not peer input: checked in debug builds; release builds take nothing).
RequestParser::State RequestParser::Feed(const char* data, size_t len, size_t* consumed) {
  Impl& m = *impl_;
  *consumed = 0;
  LL_DCHECK(m.state == State::kNeedMore || m.state == State::kError);
  if (m.state != State::kNeedMore)
    return m.state;
  if (len == 0)
    return m.state;
  if (m.buf.capacity() < kInitialReserve)
    m.buf.reserve(kInitialReserve);
  m.started = true;

  size_t off = 0;
  while (off < len) {
    // Until the headers are complete, llhttp sees at most what is left of the
    // header budget; if it takes all of it without finishing them, it is 431.
    size_t n = len - off;
    bool capped = false;
    if (!m.headers_done) {
      size_t left = m.limits.max_header_bytes - m.header_bytes;
      if (n >= left) {
        n = left;
        capped = true;
      }
    }
    llhttp_errno_t err = llhttp_execute(&m.parser, data + off, n);
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      *consumed = off + static_cast<size_t>(llhttp_get_error_pos(&m.parser) - (data + off));
      return m.Complete(err == HPE_PAUSED_UPGRADE);
    }
    if (err != HPE_OK) {
      *consumed = off + static_cast<size_t>(llhttp_get_error_pos(&m.parser) - (data + off));
      return m.Error(err);
    }
    off += n;
    if (!m.headers_done) {
      m.header_bytes += n;
      if (capped) {
        *consumed = off;
        m.error_status = 431;
        m.error_reason = "header section over the limit";
        return m.Error(HPE_USER);
      }
    }
  }
  *consumed = len;
  return State::kNeedMore;
}

const Request& RequestParser::request() const {
  return impl_->request;
}

int RequestParser::error_status() const {
  return impl_->error_status;
}

const char* RequestParser::error_reason() const {
  return impl_->error_reason ? impl_->error_reason : "";
}

bool RequestParser::TakeContinue() {
  bool v = impl_->expect_continue && impl_->state == State::kNeedMore;
  impl_->expect_continue = false;
  return v;
}

bool RequestParser::in_progress() const {
  return impl_->started && impl_->state == State::kNeedMore;
}

void RequestParser::Next() {
  Impl& m = *impl_;
  if (m.state == State::kComplete && !m.request.upgrade) {
    llhttp_resume(&m.parser);
  } else {
    // After an upgrade or an error llhttp cannot go on by itself; start over.
    llhttp_reset(&m.parser);
  }
  if (m.buf.capacity() > kKeepCapacity) {
    std::string().swap(m.buf);
  } else {
    m.buf.clear();
  }
  m.url_len = 0;
  m.body_off = m.body_len = 0;
  m.spans.clear();
  m.fields.clear();
  m.in_field = false;
  m.header_bytes = 0;
  m.headers_done = false;
  m.expect_continue = false;
  m.started = false;
  m.keep_alive = true;
  m.state = State::kNeedMore;
  m.error_status = 0;
  m.error_reason = nullptr;
  m.request = Request();
}

}  // namespace longlink::http
