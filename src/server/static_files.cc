// StaticFiles: the table of served paths, built once (on first use, a
// thread-safe static) from the generated kEmbeddedFiles, and the response
// head for one of them. Responses say `Cache-Control: no-cache` with an ETag,
// so a browser revalidates (a cheap 304) and sees a new binary's client at
// once.
#include "server/static_files.h"

#include <cstdint>
#include <cstdio>
#include <vector>

#include "http/response.h"

namespace longlink::server {

namespace {

std::string Etag(std::string_view body) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char ch : body) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof(buf), "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::vector<StaticFile> BuildTable() {
  std::vector<StaticFile> files;
  for (size_t i = 0; i < kEmbeddedFileCount; ++i) {
    const EmbeddedFile& e = kEmbeddedFiles[i];
    StaticFile f;
    f.path = std::string("/") + e.name;
    f.content_type = std::string(ContentTypeFor(e.name));
    f.body = std::string_view(e.data, e.size);
    f.etag = Etag(f.body);
    if (f.path == "/index.html") {
      StaticFile root = f;
      root.path = "/";
      files.push_back(std::move(root));
    }
    files.push_back(std::move(f));
  }
  return files;
}

// True if an If-None-Match value lists `etag` (or is "*").
bool Matches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match == "*")
    return true;
  size_t pos = if_none_match.find(etag);
  return pos != std::string_view::npos;
}

}  // namespace

std::span<const StaticFile> StaticFiles() {
  static const std::vector<StaticFile> files = BuildTable();
  return files;
}

const StaticFile* FindStaticFile(std::string_view path) {
  for (const StaticFile& f : StaticFiles()) {
    if (f.path == path)
      return &f;
  }
  return nullptr;
}

std::string_view ContentTypeFor(std::string_view name) {
  if (EndsWith(name, ".html"))
    return "text/html; charset=utf-8";
  if (EndsWith(name, ".js") || EndsWith(name, ".mjs"))
    return "text/javascript; charset=utf-8";
  if (EndsWith(name, ".css"))
    return "text/css; charset=utf-8";
  if (EndsWith(name, ".svg"))
    return "image/svg+xml";
  if (EndsWith(name, ".json"))
    return "application/json";
  if (EndsWith(name, ".png"))
    return "image/png";
  if (EndsWith(name, ".ico"))
    return "image/x-icon";
  return "application/octet-stream";
}

std::string_view AppendStaticResponse(std::string* out, const StaticFile& f,
                                      const http::Request& req) {
  std::string headers = "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nETag: ";
  headers += f.etag;
  headers += "\r\n";
  std::string_view inm = req.Header("If-None-Match");
  bool not_modified = !inm.empty() && Matches(inm, f.etag);
  // head=true: Content-Length still gives the file's size, and no body is
  // appended; the caller sends f.body after the head unless nothing follows.
  http::AppendResponse(out, not_modified ? 304 : 200, f.content_type, f.body, req.keep_alive,
                       headers, /*head=*/true);
  if (not_modified || req.method == http::Method::kHead)
    return {};
  return f.body;
}

}  // namespace longlink::server
