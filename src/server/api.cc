// The server-side HTTP API (PROTOCOL.md section 9): publish, groups,
// history and presence, behind the API key. Bodies are parsed with simdjson
// On-Demand; a message body is kept as its raw JSON text. Requests that need
// another shard wait for its answer with reading paused, so pipelined
// requests on one connection are answered in order.
#include <openssl/crypto.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/log.h"
#include "net/shard.h"
#include "http/response.h"
#include "proto/command.h"
#include "proto/ids.h"
#include "server/server.h"
#include "server/session.h"

namespace longlink::server {

namespace {

namespace od = simdjson::ondemand;

using http::PercentDecode;

bool KeyMatches(std::string_view header, const std::string& key) {
  constexpr std::string_view kBearer = "Bearer ";
  if (key.empty() || header.size() != kBearer.size() + key.size()) return false;
  // The scheme is case-insensitive (RFC 9110 11.1), the key is not.
  for (size_t i = 0; i < kBearer.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(kBearer[i]))) {
      return false;
    }
  }
  return CRYPTO_memcmp(header.data() + kBearer.size(), key.data(), key.size()) == 0;
}

// Reads an array of ids; false if it is not an array of valid ids.
bool ReadIds(od::value v, std::vector<std::string>* out) {
  od::array arr;
  if (v.get_array().get(arr)) return false;
  for (auto el : arr) {
    std::string_view s;
    if (el.get_string().get(s) || !proto::IsValidId(s)) return false;
    out->emplace_back(s);
  }
  return true;
}

}  // namespace

void Session::ApiError(Conn* c, const http::Request& req, int status, const char* code,
                       const char* msg, std::string_view extra_headers) {
  HttpError(c, status, code, msg, !req.keep_alive, extra_headers);
}

void Session::ApiWait(Conn* c, const http::Request& req, core::Op* op) {
  HttpState* st = c->http;
  st->waiting = hub_->OpenHttp(c);
  st->keep_alive = req.keep_alive;
  op->origin.conn = st->waiting;
  hub_->SubmitApi(op);
}

bool Session::ApiKeyMissing(const http::Request& req) const {
  return req.path.starts_with("/api/") && !KeyMatches(req.Header("Authorization"), cfg_.api_key);
}

void Session::HandleApi(Conn* c, const http::Request& req) {
  if (!KeyMatches(req.Header("Authorization"), cfg_.api_key)) {
    ApiError(c, req, 401, "unauthorized", "missing or wrong API key");
    return;
  }
  std::string_view path = req.path;
  auto method_is = [&](http::Method m, const char* allow) {
    if (req.method == m || (m == http::Method::kGet && req.method == http::Method::kHead)) {
      return true;
    }
    std::string h = std::string("Allow: ") + allow + "\r\n";
    ApiError(c, req, 405, "bad_request", "method not allowed", h);
    return false;
  };

  if (path == "/api/presence") {
    if (!method_is(http::Method::kGet, "GET, HEAD")) return;
    std::string users_q = PercentDecode(req.QueryParam("users"));
    std::vector<std::string_view> users;
    size_t start = 0;
    while (start <= users_q.size() && !users_q.empty()) {
      size_t comma = users_q.find(',', start);
      std::string_view u = std::string_view(users_q).substr(
          start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!proto::IsValidId(u)) {
        ApiError(c, req, 400, "bad_request", "users must be a comma-separated list of ids");
        return;
      }
      users.push_back(u);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    std::string body;
    hub_->AppendPresence(&body, core::Origin{}, users, true);
    Respond(c, req, 200, "application/json", body);
    return;
  }

  if (path == "/api/history") {
    if (!method_is(http::Method::kGet, "GET, HEAD")) return;
    auto* op = new core::Op();
    op->type = core::OpType::kHistory;
    op->conv = PercentDecode(req.QueryParam("conv"));
    proto::ConvId cid;
    std::string after = PercentDecode(req.QueryParam("after"));
    std::string before = PercentDecode(req.QueryParam("before"));
    std::string limit = PercentDecode(req.QueryParam("limit"));
    bool ok = proto::ParseConv(op->conv, &cid);
    if (ok && !after.empty()) {
      auto v = ParseUintSaturated(after);
      ok = v.has_value();
      op->has_after = true;
      op->after = v.value_or(0);
    }
    if (ok && !before.empty()) {
      auto v = ParseUintSaturated(before);
      ok = v.has_value();
      op->has_before = true;
      op->before = v.value_or(0);
    }
    if (ok && !limit.empty()) {
      // Any integer, clamped to 1..1000 as a pull's (PROTOCOL.md 6): a
      // negative one counts as 1.
      const bool negative = limit.size() > 1 && limit[0] == '-';
      auto v = ParseUintSaturated(negative ? std::string_view(limit).substr(1)
                                       : std::string_view(limit));
      ok = v.has_value();
      op->limit = negative ? 1 : uint32_t(std::clamp<uint64_t>(v.value_or(100), 1, 1000));
    }
    if (!ok || (op->has_after && op->has_before)) {
      delete op;
      ApiError(c, req, 400, "bad_request",
               "history needs conv, and at most one of after and before (integers)");
      return;
    }
    ApiWait(c, req, op);
    return;
  }

  bool publish = path == "/api/publish";
  bool groups = path == "/api/groups";
  bool group_path = path.size() > 12 && path.substr(0, 12) == "/api/groups/";
  if (!publish && !groups && !group_path) {
    ApiError(c, req, 404, "not_found", "no such API path");
    return;
  }
  std::string_view group;
  bool members_path = false;
  if (group_path) {
    group = path.substr(12);
    constexpr std::string_view kMembers = "/members";
    if (group.size() > kMembers.size() &&
        group.substr(group.size() - kMembers.size()) == kMembers) {
      group.remove_suffix(kMembers.size());
      members_path = true;
    }
    if (!proto::IsValidId(group)) {
      ApiError(c, req, 404, "not_found", "no such group");
      return;
    }
  }
  auto* op = new core::Op();
  op->conv = "g:" + std::string(group);
  if (group_path && !members_path) {
    if (req.method == http::Method::kGet || req.method == http::Method::kHead) {
      op->type = core::OpType::kGroupGet;
    } else if (req.method == http::Method::kDelete) {
      op->type = core::OpType::kGroupDelete;
    } else {
      delete op;
      ApiError(c, req, 405, "bad_request", "method not allowed", "Allow: GET, HEAD, DELETE\r\n");
      return;
    }
    ApiWait(c, req, op);
    return;
  }
  if (req.method != http::Method::kPost) {
    delete op;
    ApiError(c, req, 405, "bad_request", "method not allowed", "Allow: POST\r\n");
    return;
  }

  // A JSON body follows. The DOM parse validates all of it (On-Demand
  // only checks what it visits); On-Demand then finds the raw text of `body`.
  simdjson::padded_string json(req.body.data(), req.body.size());
  const char* bad = nullptr;
  {
    simdjson::dom::parser dom;
    simdjson::dom::element root;
    if (dom.parse(json).get(root) || !root.is_object()) bad = "the body must be a JSON object";
  }
  od::parser parser;
  od::document doc;
  od::object obj;
  if (!bad && (parser.iterate(json).get(doc) || doc.get_object().get(obj))) {
    bad = "the body must be a JSON object";
  }
  bool have_to = false, have_cmid = false, have_body = false, have_group = false;
  std::string from = "system";
  std::string to;
  if (!bad) for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      bad = "malformed JSON";
      break;
    }
    od::value v;
    if (field.value().get(v)) {
      bad = "malformed JSON";
      break;
    }
    std::string_view s;
    if (publish && key == "to") {
      if (v.get_string().get(s)) bad = "to must be a string";
      to.assign(s);
      have_to = true;
    } else if (publish && key == "from") {
      if (v.get_string().get(s) || !proto::IsValidId(s)) bad = "from must be a valid id";
      from.assign(s);
    } else if (publish && key == "cmid") {
      if (v.get_string().get(s) || !proto::IsValidId(s)) bad = "cmid must be a valid id";
      op->cmid.assign(s);
      have_cmid = true;
    } else if (publish && key == "body") {
      // Raw text: the object's or array's whole text, or a scalar's token.
      od::json_type type;
      bool err = v.type().get(type) != simdjson::SUCCESS;
      if (!err && type == od::json_type::object) {
        od::object o;
        err = v.get_object().get(o) || o.raw_json().get(s);
      } else if (!err && type == od::json_type::array) {
        od::array a;
        err = v.get_array().get(a) || a.raw_json().get(s);
      } else if (!err) {
        s = v.raw_json_token();
      }
      if (err) {
        bad = "malformed body";
      } else {
        while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' ||
                              s.back() == '\t')) {
          s.remove_suffix(1);
        }
        op->body.assign(s);
        have_body = true;
      }
    } else if (groups && key == "group") {
      if (v.get_string().get(s) || !proto::IsValidId(s)) bad = "group must be a valid id";
      group = s;
      op->conv = "g:" + std::string(s);
      have_group = true;
    } else if ((groups && key == "members") || (members_path && key == "add")) {
      if (!ReadIds(v, &op->add)) bad = "members must be an array of valid ids";
    } else if (members_path && key == "remove") {
      if (!ReadIds(v, &op->remove)) bad = "remove must be an array of valid ids";
    } else if (groups && key == "open") {
      bool b = false;
      if (v.get_bool().get(b)) bad = "open must be a boolean";
      op->open = b;
    }
  }
  if (bad) {
    delete op;
    ApiError(c, req, 400, "bad_request", bad);
    return;
  }
  if (publish) {
    proto::Destination dest;
    if (!have_to || !proto::ParseDestination(to, &dest)) {
      bad = "to must be u:<user> or g:<group>";
    } else if (!have_cmid) {
      bad = "cmid is required";
    } else if (!have_body) {
      bad = "body is required";
    }
    if (bad) {
      delete op;
      ApiError(c, req, 400, "bad_request", bad);
      return;
    }
    if (op->body.size() > cfg_.max_body) {
      delete op;
      ApiError(c, req, 413, "too_large", "body exceeds --max-body");
      return;
    }
    op->type = core::OpType::kPublish;
    op->user = from;
    op->device = "api";
    op->conv.clear();
    if (dest.kind == proto::DestKind::kUser) {
      proto::AppendDirectConv(&op->conv, from, dest.name);
    } else {
      proto::AppendGroupConv(&op->conv, dest.name);
    }
  } else if (groups) {
    if (!have_group) {
      delete op;
      ApiError(c, req, 400, "bad_request", "group is required");
      return;
    }
    op->type = core::OpType::kGroupCreate;
  } else {
    op->type = core::OpType::kGroupMembers;
  }
  ApiWait(c, req, op);
}

// core::Sink: the answer to an API request that waited for another shard.
void Session::HttpRespond(void* conn, int status, std::string_view json) {
  auto* c = static_cast<Conn*>(conn);
  if (c->closed() || c->kind != kHttp) return;
  HttpState* st = c->http;
  hub_->CloseHttp(st->waiting);
  st->waiting = core::ConnRef{};
  scratch_.clear();
  // For an error status `json` is already {"error":..,"msg":..}; an empty
  // body (POST /send's 202) goes without a type.
  http::AppendResponse(&scratch_, status, json.empty() ? "" : "application/json", json,
                       st->keep_alive);
  if (status >= 400) shard_->metrics().http_errors_total.Add();
  shard_->Send(c, scratch_.data(), scratch_.size());
  if (!st->keep_alive) {
    shard_->CloseAfterFlush(c);
    return;
  }
  ResumeHttp(c);
}

}  // namespace longlink::server
