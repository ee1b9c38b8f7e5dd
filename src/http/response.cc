// HTTP/1.1 response builders. Everything is appended to the caller's string,
// which it then writes as is; nothing here keeps state. JSON strings are
// escaped per RFC 8259, and bytes that are not valid UTF-8 (a message may
// quote peer input) become U+FFFD so the body stays valid JSON.
#include "http/response.h"

#include <charconv>

namespace longlink::http {

namespace {

void AppendUint(std::string* out, size_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec;  // 24 chars hold any 64-bit value
  out->append(buf, end);
}

// Length of the valid UTF-8 sequence at s[i] (2..4), or 0 if there is none
// (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (at(k) & 0xC0) == 0x80; };
  unsigned char c = at(i);
  if (c >= 0xC2 && c <= 0xDF)
    return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2))
      return 0;
    unsigned char c1 = at(i + 1);
    if (c == 0xE0 && c1 < 0xA0)
      return 0;  // overlong
    if (c == 0xED && c1 > 0x9F)
      return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3))
      return 0;
    unsigned char c1 = at(i + 1);
    if (c == 0xF0 && c1 < 0x90)
      return 0;  // overlong
    if (c == 0xF4 && c1 > 0x8F)
      return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

const char* StatusText(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void AppendResponse(std::string* out, int status, std::string_view content_type,
                    std::string_view body, bool keep_alive, std::string_view extra_headers,
                    bool head) {
  const char* text = StatusText(status);
  out->reserve(out->size() + 128 + content_type.size() + extra_headers.size() +
               (head ? 0 : body.size()));
  out->append("HTTP/1.1 ");
  AppendUint(out, static_cast<size_t>(status));
  out->push_back(' ');
  out->append(text);
  out->append("\r\n");
  if (!content_type.empty()) {
    out->append("Content-Type: ");
    out->append(content_type);
    out->append("\r\n");
  }
  // RFC 9110 8.6: no Content-Length in a 1xx or 204 response.
  if (status >= 200 && status != 204) {
    out->append("Content-Length: ");
    AppendUint(out, body.size());
    out->append("\r\n");
  }
  if (!keep_alive)
    out->append("Connection: close\r\n");
  out->append(extra_headers);
  out->append("\r\n");
  if (!head)
    out->append(body);
}

void AppendJsonError(std::string* out, int status, std::string_view code, std::string_view msg,
                     bool keep_alive, std::string_view extra_headers) {
  std::string body;
  body.reserve(24 + code.size() + msg.size());
  body.append("{\"error\":");
  AppendJsonString(&body, code);
  body.append(",\"msg\":");
  AppendJsonString(&body, msg);
  body.push_back('}');
  AppendResponse(out, status, "application/json", body, keep_alive, extra_headers);
}

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

}  // namespace longlink::http
