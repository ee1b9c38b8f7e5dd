// FrameQueue: the frame-waiting logic ImClient and SseClient share. A client
// supplies ReadWire (one JSON object frame from its transport, bounded by a
// deadline, or false with the reason in error_); FrameQueue adds the reads
// the tests use on top of it. Frames read while waiting for a particular one
// (WaitFor) are kept, in arrival order, for later reads, so a test can wait
// for a reply without losing the pushes that came first. It also holds the
// state every client keeps: the close code, the dead flag, the request ids,
// the transcript and the last error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "support/json.h"
#include "support/tcp_conn.h"

namespace longlink::test {

class FrameQueue {
 public:
  virtual ~FrameQueue() = default;

  // The next frame (kept ones first). False on timeout, the end of the
  // session or a bad frame (reason in error()).
  bool Next(Json* out, Duration timeout = kIoTimeout);
  // The first frame (kept or new) for which `pred` holds; the others are
  // kept. False if none arrives in time.
  bool WaitFor(const std::function<bool(const Json&)>& pred, Json* out,
               Duration timeout = kIoTimeout);
  // WaitFor a frame whose "t" is `t`.
  bool WaitType(std::string_view t, Json* out, Duration timeout = kIoTimeout);
  // WaitFor a frame whose "id" is `id` (a reply or an error).
  bool WaitId(int64_t id, Json* out, Duration timeout = kIoTimeout);
  // True if no frame is kept and none arrives within `d`; else false with
  // the frame in `got`. The end of the session also counts (false).
  bool ExpectNoFrame(Duration d, Json* got = nullptr);

  // Frames kept by WaitFor and not yet returned.
  std::deque<Json>& kept() { return kept_; }
  int close_code() const { return close_code_; }
  // A fresh request id (1000, 1001, ...).
  int64_t NextId() { return next_id_++; }
  // The last `n` frames received, one per line, for failure messages.
  std::string Transcript(size_t n = 20) const;
  const std::string& error() const { return error_; }

 protected:
  // `noun` names a frame in error messages ("frame", "event") and
  // `a_noun` is the same with its article ("a frame", "an event").
  FrameQueue(const char* noun, const char* a_noun) : noun_(noun), a_noun_(a_noun) {}
  FrameQueue(const FrameQueue&) = default;
  FrameQueue& operator=(const FrameQueue&) = default;
  FrameQueue(FrameQueue&&) = default;
  FrameQueue& operator=(FrameQueue&&) = default;

  // Reads one frame from the transport into *out. False on timeout (error_
  // set, the session goes on), or on the end of the session or a bad frame
  // (close_code_ or dead_ set too).
  virtual bool ReadWire(Json* out, Clock::time_point deadline) = 0;

  std::deque<Json> kept_;
  int close_code_ = 0;  // 0: the session has not been closed by the server
  bool dead_ = false;   // EOF, a read error or a bad frame: no more reads
  int64_t next_id_ = 1000;
  std::vector<std::string> transcript_;
  std::string error_;

 private:
  const char* noun_;
  const char* a_noun_;
};

}  // namespace longlink::test
