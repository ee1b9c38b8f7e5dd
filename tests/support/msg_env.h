// Shared set-up for the messaging integration tests: a temporary directory
// holding the API key and JWT secret files, the server arguments the
// messaging cases start from, and the HTTP API call of PROTOCOL.md section 9
// (Bearer key, JSON body, JSON reply).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.h"
#include "support/json.h"

namespace longlink::test {

inline constexpr std::string_view kApiKey = "it-api-key-5f2c9a";
inline constexpr std::string_view kJwtSecret = "it-jwt-secret-b7e1d0c4a9";

// A temporary directory with `api.key` (kApiKey) and `jwt.secret`
// (kJwtSecret), both without a trailing newline; removed in the destructor.
class Secrets {
 public:
  Secrets();
  ~Secrets();
  Secrets(const Secrets&) = delete;
  Secrets& operator=(const Secrets&) = delete;
  const std::string& dir() const { return dir_; }
  std::string api_key_file() const { return dir_ + "/api.key"; }
  std::string jwt_secret_file() const { return dir_ + "/jwt.secret"; }
  // Writes `content` to dir()/name and returns the path.
  std::string Write(std::string_view name, std::string_view content) const;

 private:
  std::string dir_;
};

// `--auth none --storage memory --threads 2 --api-key-file <f>` plus
// `extra`; a flag given in `extra` replaces the default one.
std::vector<std::string> MsgArgs(const Secrets& s, std::vector<std::string> extra = {});
// The same with `--auth jwt --jwt-secret-file <f>`.
std::vector<std::string> JwtArgs(const Secrets& s, std::vector<std::string> extra = {});

struct ApiReply {
  int status = 0;  // 0: no response
  HttpResponse resp;
  Json json;  // kMissing unless the body is JSON
  std::string error;
};
// One API call on a fresh connection: `Authorization: Bearer <key>` unless
// `key` is empty; a body is sent with Content-Type application/json.
ApiReply Api(uint16_t port, std::string_view method, std::string_view target,
             std::string_view body = {}, std::string_view key = kApiKey);
std::ostream& operator<<(std::ostream& os, const ApiReply& r);

// Creates group `name` through the API; true on 200.
bool CreateGroup(uint16_t port, std::string_view name, const std::vector<std::string>& members,
                 bool open = false);

}  // namespace longlink::test
