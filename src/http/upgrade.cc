// The server side of the WebSocket opening handshake (RFC 6455 section 4.2).
// AcceptUpgrade only reads the request and builds the response bytes; the
// caller writes them and, on 101, hands the connection to the framer. Header
// lists (Upgrade, Connection, Sec-WebSocket-Protocol) may be split over
// several header lines, so every line of that name is searched.
// Extensions are not negotiated: Sec-WebSocket-Extensions is ignored, which
// RFC 6455 9.1 allows (the client then uses none).
#include "http/upgrade.h"

#include <openssl/evp.h>

#include "http/response.h"

namespace longlink::http {

namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i]))
      return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True if any header line named `name` holds `token` among its comma-separated
// values. Case-insensitive when `fold_case`, exact otherwise (subprotocol
// names are case-sensitive, RFC 6455 4.1).
bool HasToken(const Request& req, std::string_view name, std::string_view token, bool fold_case) {
  for (size_t i = 0; i < req.header_count; ++i) {
    if (!EqualsIgnoreCase(req.headers[i].name, name))
      continue;
    std::string_view rest = req.headers[i].value;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view item = Trim(rest.substr(0, comma));
      if (fold_case ? EqualsIgnoreCase(item, token) : item == token)
        return true;
      if (comma == std::string_view::npos)
        break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// A Sec-WebSocket-Key must decode to 16 bytes: base64 of 16 bytes is always
// 22 alphabet characters and "==".
bool IsValidKey(std::string_view key) {
  if (key.size() != 24 || key[22] != '=' || key[23] != '=')
    return false;
  for (size_t i = 0; i < 22; ++i) {
    if (!IsBase64Char(key[i]))
      return false;
  }
  return true;
}

UpgradeResult Refuse(int status, std::string_view reason, std::string_view extra_headers = {}) {
  UpgradeResult r;
  r.status = status;
  r.reason = reason;
  AppendJsonError(&r.response, status, "bad_request", reason, /*keep_alive=*/false, extra_headers);
  return r;
}

}  // namespace

std::string ComputeAcceptKey(std::string_view key) {
  std::string input;
  input.reserve(key.size() + kWebSocketGuid.size());
  input.append(key);
  input.append(kWebSocketGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr) != 1 ||
      digest_len != 20) {
    return {};  // libcrypto failure: the handshake then fails on the client
  }
  unsigned char out[29];  // 4 * ceil(20 / 3) = 28, plus the NUL
  int n = EVP_EncodeBlock(out, digest, 20);
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

UpgradeResult AcceptUpgrade(const Request& req, std::string_view subprotocol) {
  if (req.method != Method::kGet)
    return Refuse(400, "websocket upgrade must be GET");
  if (req.http_major < 1 || (req.http_major == 1 && req.http_minor < 1)) {
    return Refuse(400, "websocket upgrade needs HTTP/1.1");
  }
  if (!HasToken(req, "Upgrade", "websocket", true)) {
    return Refuse(400, "missing Upgrade: websocket");
  }
  if (!HasToken(req, "Connection", "upgrade", true)) {
    return Refuse(400, "missing Connection: upgrade");
  }
  // Version before key: a client of another version learns what we speak.
  if (!req.HasHeader("Sec-WebSocket-Version")) {
    return Refuse(400, "missing Sec-WebSocket-Version");
  }
  if (Trim(req.Header("Sec-WebSocket-Version")) != "13") {
    return Refuse(426, "unsupported Sec-WebSocket-Version", "Sec-WebSocket-Version: 13\r\n");
  }
  std::string_view key = Trim(req.Header("Sec-WebSocket-Key"));
  if (key.empty())
    return Refuse(400, "missing Sec-WebSocket-Key");
  if (!IsValidKey(key))
    return Refuse(400, "Sec-WebSocket-Key is not base64 of 16 bytes");

  bool select = false;
  if (!subprotocol.empty() && req.HasHeader("Sec-WebSocket-Protocol")) {
    if (!HasToken(req, "Sec-WebSocket-Protocol", subprotocol, false)) {
      return Refuse(400, "no supported subprotocol offered");
    }
    select = true;
  }

  UpgradeResult r;
  r.status = 101;
  r.response.reserve(160);
  r.response.append(
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ");
  r.response.append(ComputeAcceptKey(key));
  r.response.append("\r\n");
  if (select) {
    r.response.append("Sec-WebSocket-Protocol: ");
    r.response.append(subprotocol);
    r.response.append("\r\n");
  }
  r.response.append("\r\n");
  return r;
}

}  // namespace longlink::http
