// Secrets, MsgArgs and Api: plain files and one HTTP exchange each.
#include "support/msg_env.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace longlink::test {

Secrets::Secrets() {
  std::string tmpl = "/tmp/longlink-secrets-XXXXXX";
  if (mkdtemp(tmpl.data()) != nullptr)
    dir_ = tmpl;
  Write("api.key", kApiKey);
  Write("jwt.secret", kJwtSecret);
}

Secrets::~Secrets() {
  std::error_code ec;
  if (!dir_.empty())
    std::filesystem::remove_all(dir_, ec);
}

std::string Secrets::Write(std::string_view name, std::string_view content) const {
  std::string path = dir_ + "/" + std::string(name);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(content.data(), std::streamsize(content.size()));
  return path;
}

namespace {

std::vector<std::string> Merge(std::vector<std::string> base,
                               const std::vector<std::string>& extra) {
  // Drop each default flag (and its value) that `extra` gives again.
  std::vector<std::string> out;
  for (size_t i = 0; i < base.size(); i += 2) {
    bool replaced = false;
    for (const auto& e : extra) replaced = replaced || e == base[i];
    if (!replaced) {
      out.push_back(base[i]);
      out.push_back(base[i + 1]);
    }
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

}  // namespace

std::vector<std::string> MsgArgs(const Secrets& s, std::vector<std::string> extra) {
  return Merge({"--auth", "none", "--storage", "memory", "--threads", "2", "--api-key-file",
                s.api_key_file()},
               extra);
}

std::vector<std::string> JwtArgs(const Secrets& s, std::vector<std::string> extra) {
  return Merge({"--auth", "jwt", "--jwt-secret-file", s.jwt_secret_file(), "--storage", "memory",
                "--threads", "2", "--api-key-file", s.api_key_file()},
               extra);
}

ApiReply Api(uint16_t port, std::string_view method, std::string_view target, std::string_view body,
             std::string_view key) {
  ApiReply r;
  std::string headers;
  if (!key.empty())
    headers += "Authorization: Bearer " + std::string(key) + "\r\n";
  if (!body.empty() || method == "POST") {
    headers += "Content-Type: application/json\r\n";
    headers += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  HttpClient c;
  if (!c.Connect(port)) {
    r.error = "connect: " + c.conn().error();
    return r;
  }
  headers += "Connection: close\r\n";
  if (!c.Send(Request(method, target, headers, body))) {
    r.error = "send: " + c.conn().error();
    return r;
  }
  if (!c.ReadResponse(&r.resp, method == "HEAD", 10s)) {
    r.error = "response: " + c.error();
    return r;
  }
  r.status = r.resp.status;
  std::optional<Json> j = Json::Parse(r.resp.body, &r.error);
  if (j)
    r.json = std::move(*j);
  return r;
}

std::ostream& operator<<(std::ostream& os, const ApiReply& r) {
  return os << r.status << " " << r.resp.body << (r.status == 0 ? " (" + r.error + ")" : "");
}

bool CreateGroup(uint16_t port, std::string_view name, const std::vector<std::string>& members,
                 bool open) {
  std::string body = "{\"group\":" + JsonQuote(name) + ",\"members\":" + JsonStringArray(members) +
                     ",\"open\":" + (open ? "true" : "false") + "}";
  return Api(port, "POST", "/api/groups", body).status == 200;
}

}  // namespace longlink::test
