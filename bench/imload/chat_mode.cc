// imload chat: one-to-one messaging. --pairs pairs of sessions (users a<i>
// and b<i>); each a<i> keeps --depth sends to u:b<i> in flight (depth 1 is
// ping-pong: the next send goes out when the ack comes back), and b<i>
// answers the pushes of each read with one cumulative recv. Measured over
// --duration after --warmup: acks per second, send->ack latency, send->push
// latency (the body carries the send time), and after a drain of up to
// --drain seconds, the exactly-once check: every acked seq of d:a<i>:b<i>
// must have been pushed to b<i> once (missing, duplicates), and nothing may
// be pushed that was not acked.
//
// With --rate R the load is an open loop instead: a 1 ms timer sends the
// R-per-second sends due so far, round-robin over the senders, whatever
// the acks do; a sender that already has --depth in flight queues its turn
// until an ack makes room. Latency then counts from when a send was due,
// so the time spent queued behind a slow server is part of it (no
// coordinated omission), and `offered_per_s` against `msgs_per_s` shows
// whether the server kept up.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <string>
#include <vector>

#include "imload/frame_scan.h"
#include "common/histogram.h"
#include "common/ws_client.h"
#include "imload/im_conn.h"

namespace longlink::imload {

namespace {

// Per pair: what a<i> sent and got acked, what b<i> got pushed. Seqs are
// stored relative to `base` (the conversation's last seq before this run,
// learned from the first ack or push, minus --depth of margin) so that a
// server that already carries the conversation needs no huge arrays.
struct Pair {
  std::vector<uint64_t> send_ns;  // ring by request id: when each send was queued
  std::vector<uint8_t> acked;     // by seq - base: 1 once acked
  std::vector<uint8_t> pushed;    // by seq - base: times pushed to b
  uint64_t base = 0;
  bool have_base = false;
  uint64_t next_id = 1;
  uint64_t next_cmid = 1;
  uint32_t in_flight = 0;
  uint64_t read_high_seq = 0;  // highest seq pushed to b in the current read
  uint64_t recv_sent = 0;      // highest seq b has acknowledged with recv
  std::deque<uint64_t> backlog;  // --rate: when each queued send was due
};

class ChatRun final : public Fleet {
 public:
  explicit ChatRun(const Options& opts);
  int Run();

 private:
  enum class Phase { kOpening, kWarmup, kMeasure, kDrain, kDone };

  void OnAllOpen() override;
  void OnFrame(ImConn* c, uint8_t* data, size_t len) override;
  void OnReadEnd(ImConn* c) override;

  // Sends a<pair>'s next message; its latency counts from `due_ns`.
  void Send(uint32_t pair, uint64_t due_ns);
  // --rate: one send's turn for `pair`, now or once it has room.
  void Schedule(uint32_t pair, uint64_t due_ns);
  // --rate: sends the ones due by now.
  void OnTick();
  // Sends the next one after an answer made room (its queued turn under
  // --rate, else a new one).
  void Refill(uint32_t pair);
  void OnAck(uint32_t pair, uint8_t* data, size_t len);
  void OnPush(uint32_t pair, uint8_t* data, size_t len);
  void OnError(uint32_t pair, bool sender, uint8_t* data, size_t len);
  // Index into a pair's seq arrays, growing them; false if below base.
  bool Slot(Pair* p, uint64_t seq, size_t* index);
  bool InWindow(uint64_t t) const { return t >= measure_start_ && t < measure_end_; }
  void StartMeasure();
  void EndMeasure();
  void CheckDrained();
  void PrintProgress();
  // Prints the results; false when anything was lost or went wrong.
  bool Report();

  std::string tag_;
  std::vector<char> scratch_;  // one outgoing send frame
  std::vector<Pair> pairs_;
  uint32_t ring_mask_ = 0;
  Phase phase_ = Phase::kOpening;
  uint64_t measure_start_ = UINT64_MAX;
  uint64_t measure_end_ = UINT64_MAX;
  uint64_t drain_start_ = 0;
  CpuSample cpu_start_;
  CpuSample cpu_end_;
  Histogram ack_lat_;
  Histogram push_lat_;
  uint64_t acks_in_window_ = 0;
  uint64_t pushes_in_window_ = 0;
  uint64_t acks_total_ = 0;
  uint64_t pushes_total_ = 0;
  uint64_t error_frames_ = 0;
  uint64_t dup_acks_ = 0;
  uint64_t bad_frames_ = 0;  // frames that did not parse as expected
  uint64_t out_of_range_ = 0;
  uint64_t recvs_sent_ = 0;
  uint64_t progress_start_ = 0;
  uint64_t progress_acks_ = 0;
  uint64_t progress_ns_ = 0;
  // --rate
  uint64_t publish_start_ = 0;
  uint64_t scheduled_ = 0;  // sends due since publish_start_
  uint64_t scheduled_at_start_ = 0;
  uint64_t scheduled_at_end_ = 0;
  uint32_t next_pair_ = 0;
  uint64_t backlogged_ = 0;  // turns that had to wait for room
  size_t backlog_max_ = 0;
};

ChatRun::ChatRun(const Options& opts) : Fleet(opts), tag_(RunTag()), scratch_(opts.size + 256) {
  uint32_t ring = 1;
  while (ring < uint32_t(opts.depth)) ring <<= 1;
  ring_mask_ = ring - 1;
  pairs_.resize(size_t(opts.pairs));
  for (auto& p : pairs_) p.send_ns.assign(ring, 0);
  // conns_[2i] is a<i>, conns_[2i+1] is b<i>.
  for (int i = 0; i < opts.pairs; ++i) {
    conns_.push_back(
        std::make_unique<ImConn>(&loop_, this, uint32_t(2 * i), "a" + std::to_string(i), "d1"));
    conns_.push_back(
        std::make_unique<ImConn>(&loop_, this, uint32_t(2 * i + 1), "b" + std::to_string(i), "d1"));
  }
}

int ChatRun::Run() {
  if (!loop_.ok())
    return 2;
  OpenAll();
  loop_.Run();
  return Report() ? 0 : 1;
}

void ChatRun::OnAllOpen() {
  if (open_failed_ > 0) {
    std::fprintf(stderr, "imload: %" PRIu64 " connections failed to open; giving up\n",
                 open_failed_);
    phase_ = Phase::kDone;
    CloseAll();
    return;
  }
  phase_ = Phase::kWarmup;
  progress_start_ = uv_hrtime();
  progress_ns_ = progress_start_;
  if (opts_.rate > 0) {
    publish_start_ = progress_start_;
    loop_.StartTicker(1, [this] { OnTick(); });
  } else {
    for (uint32_t i = 0; i < pairs_.size(); ++i) {
      for (int d = 0; d < opts_.depth; ++d) Send(i, uv_hrtime());
    }
    if (opts_.progress)
      loop_.StartTicker(1000, [this] { PrintProgress(); });
  }
  loop_.SetTimer(opts_.warmup, [this] { StartMeasure(); });
}

void ChatRun::OnTick() {
  uint64_t now = uv_hrtime();
  uint64_t n = SendsDue(publish_start_, now, opts_.rate, scheduled_);
  scheduled_ += n;
  for (uint64_t i = 0; i < n; ++i) {
    Schedule(next_pair_, now);
    next_pair_ = next_pair_ + 1 == pairs_.size() ? 0 : next_pair_ + 1;
  }
  if (opts_.progress && now - progress_ns_ >= 1000000000) {
    PrintProgress();
    progress_ns_ = now;
  }
}

void ChatRun::Schedule(uint32_t pair, uint64_t due_ns) {
  Pair& p = pairs_[pair];
  if (p.in_flight < uint32_t(opts_.depth) && p.backlog.empty()) {
    Send(pair, due_ns);
    return;
  }
  p.backlog.push_back(due_ns);
  ++backlogged_;
  backlog_max_ = std::max(backlog_max_, p.backlog.size());
}

void ChatRun::Refill(uint32_t pair) {
  if (phase_ != Phase::kWarmup && phase_ != Phase::kMeasure)
    return;
  Pair& p = pairs_[pair];
  if (opts_.rate <= 0) {
    Send(pair, uv_hrtime());
  } else if (!p.backlog.empty()) {
    uint64_t due = p.backlog.front();
    p.backlog.pop_front();
    Send(pair, due);
  }
}

// One line per second: when a stall happens and how long it lasts.
void ChatRun::PrintProgress() {
  uint32_t in_flight = 0;
  for (const auto& p : pairs_) in_flight += p.in_flight;
  std::fprintf(stderr,
               "imload: t=%.1fs acked=%" PRIu64 " (+%" PRIu64 ") pushed=%" PRIu64 " in_flight=%u\n",
               double(uv_hrtime() - progress_start_) / 1e9, acks_total_,
               acks_total_ - progress_acks_, pushes_total_, in_flight);
  progress_acks_ = acks_total_;
}

void ChatRun::StartMeasure() {
  phase_ = Phase::kMeasure;
  cpu_start_ = SampleCpu(opts_.server_pid);
  measure_start_ = cpu_start_.wall_ns;
  scheduled_at_start_ = scheduled_;
  loop_.SetTimer(opts_.duration, [this] { EndMeasure(); });
}

void ChatRun::EndMeasure() {
  cpu_end_ = SampleCpu(opts_.server_pid);
  measure_end_ = cpu_end_.wall_ns;
  scheduled_at_end_ = scheduled_;
  phase_ = Phase::kDrain;
  drain_start_ = measure_end_;
  loop_.StartTicker(10, [this] { CheckDrained(); });
}

// Done when every send is acked and every ack pushed, or after --drain.
void ChatRun::CheckDrained() {
  bool idle = pushes_total_ >= acks_total_;
  for (const auto& p : pairs_) idle = idle && p.in_flight == 0;
  if (idle || double(uv_hrtime() - drain_start_) / 1e9 >= opts_.drain) {
    phase_ = Phase::kDone;
    CloseAll();
  }
}

void ChatRun::Send(uint32_t pair, uint64_t due_ns) {
  Pair& p = pairs_[pair];
  uint64_t id = p.next_id++;
  p.send_ns[id & ring_mask_] = due_ns;
  ++p.in_flight;
  FrameText f(scratch_.data(), scratch_.size());
  f.Add("{\"t\":\"send\",\"id\":").Add(id).Add(",\"to\":\"u:b").Add(uint64_t(pair));
  f.Add("\",\"cmid\":\"").Add(tag_).Add(".").Add(p.next_cmid++).Add("\",\"body\":");
  AddBody(&f, due_ns, opts_.size);
  f.Add("}");
  conns_[2 * pair]->SendText(f.data(), f.size());
}

void ChatRun::OnFrame(ImConn* c, uint8_t* data, size_t len) {
  uint32_t pair = c->index() / 2;
  bool sender = (c->index() & 1) == 0;
  if (sender && HasPrefix(data, len, "{\"t\":\"ack\"")) {
    OnAck(pair, data, len);
  } else if (!sender && HasPrefix(data, len, "{\"t\":\"msg\"")) {
    OnPush(pair, data, len);
  } else if (HasPrefix(data, len, "{\"t\":\"error\"")) {
    OnError(pair, sender, data, len);
  } else if (!HasPrefix(data, len, "{\"t\":\"receipt\"")) {
    ++bad_frames_;  // receipts (delivered, to a<i>) are expected and ignored
  }
}

bool ChatRun::Slot(Pair* p, uint64_t seq, size_t* index) {
  if (!p->have_base) {
    p->have_base = true;
    p->base = seq > uint64_t(opts_.depth) ? seq - uint64_t(opts_.depth) - 1 : 0;
  }
  if (seq <= p->base) {
    ++out_of_range_;
    return false;
  }
  *index = size_t(seq - p->base);
  if (*index >= p->acked.size()) {
    size_t n = std::max(*index + 1, p->acked.size() * 2);
    p->acked.resize(n, 0);
    p->pushed.resize(n, 0);
  }
  return true;
}

void ChatRun::OnAck(uint32_t pair, uint8_t* data, size_t len) {
  Pair& p = pairs_[pair];
  uint64_t id = 0;
  uint64_t seq = 0;
  if (!ScanUint(data, len, "\"id\":", &id) || !ScanUint(data, len, "\"seq\":", &seq)) {
    ++bad_frames_;
    return;
  }
  uint64_t now = WsClient::read_time();
  ++acks_total_;
  if (Contains(data, len, "\"dup\":true"))
    ++dup_acks_;
  if (InWindow(now)) {
    ++acks_in_window_;
    ack_lat_.Record(now - p.send_ns[id & ring_mask_]);
  }
  size_t i;
  if (Slot(&p, seq, &i))
    p.acked[i] = 1;
  if (p.in_flight > 0)
    --p.in_flight;
  Refill(pair);
}

void ChatRun::OnPush(uint32_t pair, uint8_t* data, size_t len) {
  Pair& p = pairs_[pair];
  uint64_t seq = 0;
  uint64_t t0 = 0;
  // "seq" precedes "body" in a push; "t0" occurs only in the body.
  if (!ScanUint(data, len, "\"seq\":", &seq) || !ScanUint(data, len, "\"t0\":", &t0)) {
    ++bad_frames_;
    return;
  }
  uint64_t now = WsClient::read_time();
  ++pushes_total_;
  if (InWindow(now)) {
    ++pushes_in_window_;
    push_lat_.Record(now > t0 ? now - t0 : 0);
  }
  size_t i;
  if (Slot(&p, seq, &i) && p.pushed[i] < 255)
    ++p.pushed[i];
  if (seq > p.read_high_seq)
    p.read_high_seq = seq;
}

void ChatRun::OnReadEnd(ImConn* c) {
  if (c->index() & 1) {
    Pair& p = pairs_[c->index() / 2];
    if (p.read_high_seq > p.recv_sent) {
      p.recv_sent = p.read_high_seq;
      char buf[128];
      FrameText f(buf, sizeof(buf));
      f.Add("{\"t\":\"recv\",\"conv\":\"d:a").Add(uint64_t(c->index() / 2));
      f.Add(":b").Add(uint64_t(c->index() / 2)).Add("\",\"seq\":").Add(p.recv_sent).Add("}");
      c->SendText(f.data(), f.size());
      ++recvs_sent_;
    }
  }
}

void ChatRun::OnError(uint32_t pair, bool sender, uint8_t* data, size_t len) {
  ++error_frames_;
  if (error_frames_ <= 5)
    std::fprintf(stderr, "imload: error frame: %.*s\n", int(len), data);
  // An error that answers a send ends that request: keep the depth.
  uint64_t id;
  Pair& p = pairs_[pair];
  if (sender && ScanUint(data, len, "\"id\":", &id) && p.in_flight > 0) {
    --p.in_flight;
    Refill(pair);
  }
}

bool ChatRun::Report() {
  uint64_t missing = 0;
  uint64_t duplicates = 0;
  uint64_t unacked_pushes = 0;
  uint64_t unsent = 0;  // --rate: turns still queued when the run ended
  for (const auto& p : pairs_) {
    unsent += p.backlog.size();
    for (size_t i = 0; i < p.acked.size(); ++i) {
      if (p.acked[i] && p.pushed[i] == 0)
        ++missing;
      if (p.pushed[i] > 1)
        duplicates += p.pushed[i] - 1;
      if (!p.acked[i] && p.pushed[i] > 0)
        ++unacked_pushes;
    }
  }
  double secs = double(measure_end_ - measure_start_) / 1e9;
  if (measure_end_ == UINT64_MAX || secs <= 0)
    secs = 0;
  CpuUse cpu = CpuBetween(cpu_start_, cpu_end_);
  double rate = secs > 0 ? double(acks_in_window_) / secs : 0;
  double offered = secs > 0 ? double(scheduled_at_end_ - scheduled_at_start_) / secs : 0;
  uint64_t errors =
      error_frames_ + dup_acks_ + bad_frames_ + out_of_range_ + dropped_ + open_failed_;
  std::printf(
      "chat pairs=%d depth=%d size=%zu: %.0f msgs/s acked; ack p50 %.1f us p99 %.1f us"
      " p999 %.1f us; push p50 %.1f us p99 %.1f us; missing %" PRIu64 ", duplicates %" PRIu64
      ", errors %" PRIu64 "; server cpu %.0f%%, imload cpu %.0f%%",
      opts_.pairs, opts_.depth, opts_.size, rate, Us(ack_lat_.ValueAtPercentile(50)),
      Us(ack_lat_.ValueAtPercentile(99)), Us(ack_lat_.ValueAtPercentile(99.9)),
      Us(push_lat_.ValueAtPercentile(50)), Us(push_lat_.ValueAtPercentile(99)), missing, duplicates,
      errors, cpu.server_pct, cpu.self_pct);
  if (opts_.rate > 0) {
    std::printf("; offered %.0f/s, %" PRIu64 " sends waited for room (at most %zu queued)",
                offered, backlogged_, backlog_max_);
  }
  std::printf("\n");
  std::printf(
      "RESULT mode=chat pairs=%d depth=%d size=%zu rate=%.0f offered_per_s=%.0f backlogged=%" PRIu64
      " backlog_max=%zu unsent=%" PRIu64 " duration_s=%.2f msgs=%" PRIu64
      " msgs_per_s=%.0f ack_p50_us=%.1f ack_p99_us=%.1f ack_p999_us=%.1f ack_max_us=%.1f"
      " push_p50_us=%.1f push_p99_us=%.1f push_p999_us=%.1f pushes=%" PRIu64 " acked_total=%" PRIu64
      " pushed_total=%" PRIu64 " missing=%" PRIu64 " duplicates=%" PRIu64 " unacked_pushes=%" PRIu64
      " recvs=%" PRIu64 " errors=%" PRIu64 " error_frames=%" PRIu64 " dup_acks=%" PRIu64
      " bad_frames=%" PRIu64 " open_failed=%" PRIu64 " dropped=%" PRIu64 " close_timeouts=%" PRIu64
      " imload_cpu_pct=%.1f server_cpu_pct=%.1f"
      " other_cpu_pct=%.1f steal_pct=%.1f\n",
      opts_.pairs, opts_.depth, opts_.size, opts_.rate, offered, backlogged_, backlog_max_, unsent,
      secs, acks_in_window_, rate,
      Us(ack_lat_.ValueAtPercentile(50)), Us(ack_lat_.ValueAtPercentile(99)),
      Us(ack_lat_.ValueAtPercentile(99.9)), Us(ack_lat_.max()), Us(push_lat_.ValueAtPercentile(50)),
      Us(push_lat_.ValueAtPercentile(99)), Us(push_lat_.ValueAtPercentile(99.9)), pushes_in_window_,
      acks_total_, pushes_total_, missing, duplicates, unacked_pushes, recvs_sent_, errors,
      error_frames_, dup_acks_, bad_frames_, open_failed_, dropped_, close_timeouts_, cpu.self_pct,
      cpu.server_pct, cpu.other_pct, cpu.steal_pct);
  std::fflush(stdout);
  return errors == 0 && missing == 0 && duplicates == 0 && unacked_pushes == 0 && secs > 0;
}

}  // namespace

int RunChat(const Options& opts) {
  ChatRun run(opts);
  return run.Run();
}

}  // namespace longlink::imload
