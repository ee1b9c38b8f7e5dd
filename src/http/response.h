// HTTP responses: small builders that append a whole response (status line,
// headers, body) to a string. JSON errors have the body shape of PROTOCOL.md
// section 9: {"error":"<code>","msg":"..."}.
#pragma once

#include <string>
#include <string_view>

namespace longlink::http {

const char* StatusText(int status);

// Appends a complete response. `extra_headers` is zero or more lines, each
// ending in "\r\n" (e.g. "Allow: GET\r\n"). Adds Content-Length, and
// "Connection: close" when !keep_alive. HEAD responses carry no body:
// pass head=true.
void AppendResponse(std::string* out, int status, std::string_view content_type,
                    std::string_view body, bool keep_alive,
                    std::string_view extra_headers = {}, bool head = false);

// Appends a JSON error response. `code` is a code from PROTOCOL.md section 7
// (bad_request, unauthorized, not_found, too_large, overloaded, ...).
void AppendJsonError(std::string* out, int status, std::string_view code,
                     std::string_view msg, bool keep_alive,
                     std::string_view extra_headers = {});

// Appends `s` as a JSON string literal (with quotes), escaping as RFC 8259 says.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace longlink::http
