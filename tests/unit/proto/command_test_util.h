// Helpers for the CommandParser tests: run a frame through the no-copy path
// (the frame followed by SIMDJSON_PADDING bytes of junk that must never be
// taken as JSON) or through the copy path (an exact-size heap buffer, so that
// ASan catches any read past the frame).
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "proto/command.h"

namespace longlink::proto::testing {

inline constexpr size_t kSlack = 64;  // SIMDJSON_PADDING

class Harness {
 public:
  explicit Harness(size_t max_body = SIZE_MAX) : parser_(max_body) {}

  // No-copy path: capacity = len + kSlack.
  ParseStatus Parse(std::string_view json) {
    buf_.assign(json);
    buf_.append(kSlack, '}');
    exact_.reset();
    status = parser_.Parse(buf_.data(), json.size(), buf_.size(), &cmd);
    return status;
  }

  // Copy path: capacity == len.
  ParseStatus ParseExact(std::string_view json) {
    exact_.reset(new char[json.size()]);
    std::memcpy(exact_.get(), json.data(), json.size());
    status = parser_.Parse(exact_.get(), json.size(), json.size(), &cmd);
    return status;
  }

  // The buffer handed to the last Parse (not ParseExact).
  const std::string& buffer() const { return buf_; }
  const char* exact() const { return exact_.get(); }

  ParseStatus status;
  Command cmd;

 private:
  CommandParser parser_;
  std::string buf_;
  std::unique_ptr<char[]> exact_;
};

inline bool MsgHas(const ParseStatus& st, std::string_view word) {
  return std::string_view(st.msg).find(word) != std::string_view::npos;
}

}  // namespace longlink::proto::testing
