// Result<T>: a value or a Status, in the spirit of Dragonfly's OpResult<V>
// (std::expected is C++23). Used where a function computes something and may
// fail on bad input or a failed syscall.
#pragma once

#include <optional>
#include <utility>

#include "base/status.h"

namespace longlink {

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}    // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace longlink
