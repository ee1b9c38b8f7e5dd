// The WebSocket opening handshake, server side (RFC 6455 section 4.2).
#pragma once

#include <string>
#include <string_view>

#include "http/request_parser.h"

namespace longlink::http {

struct UpgradeResult {
  int status = 0;            // 101 on success; else 400 or 426
  std::string response;      // the complete HTTP response to write
  std::string_view reason;   // why it was refused (for logs)
};

// Validates an upgrade request and builds the response: GET, HTTP/1.1 or
// later, "Upgrade: websocket" (case-insensitive), a "Connection" header with
// the "upgrade" token, a Sec-WebSocket-Key that is base64 of 16 bytes, and
// Sec-WebSocket-Version 13 (else 426 with "Sec-WebSocket-Version: 13").
// Subprotocols (PROTOCOL.md 1.1): when `subprotocol` is not empty and the
// request has Sec-WebSocket-Protocol, the response selects it if it is among
// the offered values, else the answer is 400; without the header there is no
// subprotocol. With an empty `subprotocol` (/echo) offered ones are ignored.
// Errors are JSON bodies (response.h) with Connection: close.
UpgradeResult AcceptUpgrade(const Request& req, std::string_view subprotocol);

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 4.2.2.
std::string ComputeAcceptKey(std::string_view key);

}  // namespace longlink::http
