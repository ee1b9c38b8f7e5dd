// StaticFiles: the web client (PROTOCOL.md section 11). The files of web/
// are compiled into the binary at build time (embed_files.cmake generates
// the table below), so the server needs nothing on disk to serve them. The
// data is immutable and shared by every shard without locks.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "http/request_parser.h"

namespace longlink::server {

// One file of web/, as generated: its name ("app.js") and bytes.
struct EmbeddedFile {
  const char* name;
  const char* data;
  size_t size;
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;

// A file as served.
struct StaticFile {
  std::string path;          // "/app.js"; index.html is also served at "/"
  std::string content_type;  // by extension, with charset=utf-8 for text
  std::string etag;          // quoted FNV-1a 64 of the bytes
  std::string_view body;
};

// Every servable path ("/" included), for registering routes.
std::span<const StaticFile> StaticFiles();
// The file served at `path`, or nullptr.
const StaticFile* FindStaticFile(std::string_view path);
// The Content-Type for a file name by its extension.
std::string_view ContentTypeFor(std::string_view name);

// Appends the response head for `req` to `out` and returns the body to send
// after it: 200 with the file, or 304 without a body when If-None-Match
// names the file's ETag. HEAD gets the head only.
std::string_view AppendStaticResponse(std::string* out, const StaticFile& f,
                                      const http::Request& req);

}  // namespace longlink::server
