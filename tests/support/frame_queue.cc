// FrameQueue over a client's ReadWire. The kept-frames deque is what makes
// WaitFor safe: nothing a server sends is dropped by a test that waits for
// something else.
#include "support/frame_queue.h"

#include <utility>

namespace longlink::test {

bool FrameQueue::Next(Json* out, Duration timeout) {
  if (!kept_.empty()) {
    *out = std::move(kept_.front());
    kept_.pop_front();
    return true;
  }
  return ReadWire(out, Clock::now() + timeout);
}

bool FrameQueue::WaitFor(const std::function<bool(const Json&)>& pred, Json* out,
                         Duration timeout) {
  for (auto it = kept_.begin(); it != kept_.end(); ++it) {
    if (pred(*it)) {
      *out = std::move(*it);
      kept_.erase(it);
      return true;
    }
  }
  auto deadline = Clock::now() + timeout;
  for (;;) {
    Json j;
    if (!ReadWire(&j, deadline))
      return false;
    if (pred(j)) {
      *out = std::move(j);
      return true;
    }
    kept_.push_back(std::move(j));
  }
}

bool FrameQueue::WaitType(std::string_view t, Json* out, Duration timeout) {
  return WaitFor([&](const Json& j) { return j.Str("t") == t; }, out, timeout);
}

bool FrameQueue::WaitId(int64_t id, Json* out, Duration timeout) {
  return WaitFor([&](const Json& j) { return j["id"].is_int() && j["id"].as_int() == id; }, out,
                 timeout);
}

bool FrameQueue::ExpectNoFrame(Duration d, Json* got) {
  if (!kept_.empty()) {
    if (got)
      *got = kept_.front();
    error_ = std::string(a_noun_) + " was already waiting: " + kept_.front().raw();
    return false;
  }
  Json j;
  if (ReadWire(&j, Clock::now() + d)) {
    error_ = std::string("unexpected ") + noun_ + ": " + j.raw();
    if (got)
      *got = j;
    kept_.push_back(std::move(j));
    return false;
  }
  // Only a timeout means "nothing came".
  return close_code_ == 0 && !dead_;
}

std::string FrameQueue::Transcript(size_t n) const {
  std::string out;
  size_t start = transcript_.size() > n ? transcript_.size() - n : 0;
  for (size_t i = start; i < transcript_.size(); ++i) out += "  " + transcript_[i] + "\n";
  return out;
}

}  // namespace longlink::test
