// Set-up calls to longlink's HTTP API (PROTOCOL.md section 9) over a plain
// blocking socket, before any load runs: nothing here is timed.
#pragma once

#include <string>
#include <vector>

namespace longlink::imload {

// POSTs `body` to `path` with the API key; returns the HTTP status (0 when
// the request could not be made) and fills `response` with the body.
int HttpPost(const std::string& host, int port, const std::string& path, const std::string& api_key,
             const std::string& body, std::string* response);

// Creates closed group `name` with `members` through POST /api/groups.
// Returns true on 200; prints the reason otherwise.
bool CreateGroup(const std::string& host, int port, const std::string& api_key,
                 const std::string& name, const std::vector<std::string>& members);

}  // namespace longlink::imload
