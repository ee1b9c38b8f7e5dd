// Status: the result of an operation that has no value to return. The OK
// status carries nothing (a null message, as in LevelDB's Status); an error
// carries a negative errno-style code (libuv's UV_E* values are negative errno
// on Linux) and an optional short text. No exceptions on the data plane.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace longlink {

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  // `code` is a negative errno (as libuv returns) or -1 for a generic failure.
  static Status Error(int code, std::string msg) { return Status(code, std::move(msg)); }
  static Status Invalid(std::string msg) { return Status(-22 /* EINVAL */, std::move(msg)); }

  bool ok() const { return code_ == 0; }
  int code() const { return code_; }
  const std::string& message() const { return msg_; }
  std::string ToString() const { return ok() ? std::string("OK") : msg_; }

 private:
  Status(int code, std::string msg) : code_(code), msg_(std::move(msg)) {}
  int code_ = 0;
  std::string msg_;
};

}  // namespace longlink
