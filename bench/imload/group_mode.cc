// imload group: fan-out. Creates closed group g:<name> with --members users
// u0..u<M-1> through the HTTP API, opens one session per member and one
// publisher session (user u0, device "pub": a member too, so u0's member
// session gets the pushes and the publisher's own connection does not), and
// has the publisher send --rate messages per second, paced by a 1 ms timer
// that sends the number due so far. Every member answers the pushes of each
// read with one cumulative recv (unless --no-recv).
//
// Measured over --duration after --warmup: deliveries per second (pushes
// received by members), delivery latency (the body carries the send time),
// publisher acks per second and send->ack latency. After a drain of up to
// --drain seconds, the exactly-once check: each member must have received
// every acked seq once. Per member a bitmap of seqs received gives missing
// and duplicates; the highest contiguous seq gives `behind` (members that
// had not caught up when the drain ended) and out-of-order arrivals.
//
// --reference runs against `echo_reference --broadcast` instead: no API, no
// hello, no acks; the publisher sends frames shaped like longlink's pushes
// (same members, same length give or take a digit), which the reference
// copies to every other connection, and members never answer.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "imload/frame_scan.h"
#include "common/histogram.h"
#include "common/ws_client.h"
#include "imload/http_setup.h"
#include "imload/im_conn.h"

namespace longlink::imload {

namespace {

constexpr uint64_t kTickMs = 1;

struct Member {
  std::vector<uint64_t> seen;  // bit per seq (seq 1 is bit 1)
  uint64_t next = 1;           // lowest seq not yet received: contiguous up to next - 1
  uint64_t duplicates = 0;
  uint64_t out_of_order = 0;  // arrivals other than `next`
  uint64_t read_high = 0;     // highest seq in the current read
  uint64_t recv_sent = 0;
};

class GroupRun final : public Fleet {
 public:
  explicit GroupRun(const Options& opts);
  int Run();

 private:
  enum class Phase { kOpening, kWarmup, kMeasure, kDrain, kDone };

  ImConn* publisher() { return conns_.back().get(); }
  void OnAllOpen() override;
  void OnFrame(ImConn* c, uint8_t* data, size_t len) override;
  void OnReadEnd(ImConn* c) override;

  void OnTick();
  void Publish(uint64_t now);
  void OnAck(uint8_t* data, size_t len);
  void OnPush(Member* m, uint8_t* data, size_t len);
  void OnErrorFrame(uint8_t* data, size_t len);
  bool InWindow(uint64_t t) const { return t >= measure_start_ && t < measure_end_; }
  void StartMeasure();
  void EndMeasure();
  void CheckDrained();
  // The last seq every member must have: the highest acked (the number sent
  // with --reference).
  uint64_t expected_last() const { return opts_.reference ? sent_ : ack_high_seq_; }
  bool Report();

  std::string tag_;
  std::string group_;
  std::vector<char> scratch_;
  std::vector<Member> members_;
  std::vector<uint64_t> send_ns_;  // by request id (ids start at 1)
  Phase phase_ = Phase::kOpening;
  uint64_t publish_start_ = 0;
  uint64_t sent_ = 0;
  uint64_t measure_start_ = UINT64_MAX;
  uint64_t measure_end_ = UINT64_MAX;
  uint64_t sent_at_start_ = 0;
  uint64_t sent_at_end_ = 0;
  uint64_t drain_start_ = 0;
  CpuSample cpu_start_;
  CpuSample cpu_end_;
  Histogram delivery_lat_;
  Histogram ack_lat_;
  uint64_t deliveries_in_window_ = 0;
  uint64_t deliveries_total_ = 0;
  uint64_t acks_in_window_ = 0;
  uint64_t acks_total_ = 0;
  uint64_t ack_high_seq_ = 0;
  uint64_t error_frames_ = 0;
  uint64_t dup_acks_ = 0;
  uint64_t bad_frames_ = 0;
  uint64_t recvs_sent_ = 0;
  uint64_t receipts_ = 0;
  uint64_t progress_ns_ = 0;
  uint64_t progress_deliveries_ = 0;
  double drain_s_ = 0;
};

GroupRun::GroupRun(const Options& opts)
    : Fleet(opts), tag_(RunTag()), group_("b" + tag_), scratch_(opts.size + 512) {
  members_.resize(size_t(opts.members));
  for (int i = 0; i < opts.members; ++i) {
    std::string user = opts.reference ? "" : "u" + std::to_string(i);
    conns_.push_back(std::make_unique<ImConn>(&loop_, this, uint32_t(i), user, "d1"));
  }
  conns_.push_back(std::make_unique<ImConn>(&loop_, this, uint32_t(opts.members),
                                            opts.reference ? "" : "u0", "pub"));
}

int GroupRun::Run() {
  if (!loop_.ok())
    return 2;
  if (!opts_.reference) {
    std::vector<std::string> names;
    for (int i = 0; i < opts_.members; ++i) names.push_back("u" + std::to_string(i));
    if (!CreateGroup(opts_.host, opts_.port, opts_.api_key, group_, names))
      return 2;
  }
  OpenAll();
  loop_.Run();
  return Report() ? 0 : 1;
}

void GroupRun::OnAllOpen() {
  if (open_failed_ > 0) {
    std::fprintf(stderr, "imload: %" PRIu64 " connections failed to open; giving up\n",
                 open_failed_);
    phase_ = Phase::kDone;
    CloseAll();
    return;
  }
  std::fprintf(stderr, "imload: %zu sessions open in %.2f s\n", conns_.size(),
               double(open_ns_) / 1e9);
  phase_ = Phase::kWarmup;
  publish_start_ = uv_hrtime();
  loop_.StartTicker(kTickMs, [this] { OnTick(); });
  loop_.SetTimer(opts_.warmup, [this] { StartMeasure(); });
}

void GroupRun::StartMeasure() {
  phase_ = Phase::kMeasure;
  cpu_start_ = SampleCpu(opts_.server_pid);
  measure_start_ = cpu_start_.wall_ns;
  sent_at_start_ = sent_;
  loop_.SetTimer(opts_.duration, [this] { EndMeasure(); });
}

void GroupRun::EndMeasure() {
  cpu_end_ = SampleCpu(opts_.server_pid);
  measure_end_ = cpu_end_.wall_ns;
  sent_at_end_ = sent_;
  phase_ = Phase::kDrain;
  drain_start_ = measure_end_;
  loop_.StartTicker(10, [this] { CheckDrained(); });
}

void GroupRun::CheckDrained() {
  bool done = opts_.reference || acks_total_ + error_frames_ >= sent_;
  uint64_t last = expected_last();
  for (const auto& m : members_) done = done && m.next > last;
  double waited = double(uv_hrtime() - drain_start_) / 1e9;
  if (done || waited >= opts_.drain) {
    drain_s_ = waited;
    phase_ = Phase::kDone;
    CloseAll();
  }
}

// Sends the messages due by now: rate * elapsed, minus those already sent.
void GroupRun::OnTick() {
  uint64_t now = uv_hrtime();
  uint64_t n = SendsDue(publish_start_, now, opts_.rate, sent_);
  for (uint64_t i = 0; i < n; ++i) Publish(now);
  if (opts_.progress && now - progress_ns_ >= 1000000000) {
    // One line per second: when a stall happens and how long it lasts.
    std::fprintf(stderr,
                 "imload: t=%.1fs sent=%" PRIu64 " acked=%" PRIu64 " delivered=%" PRIu64
                 " (+%" PRIu64 ")\n",
                 double(now - publish_start_) / 1e9, sent_, acks_total_, deliveries_total_,
                 deliveries_total_ - progress_deliveries_);
    progress_ns_ = now;
    progress_deliveries_ = deliveries_total_;
  }
}

void GroupRun::Publish(uint64_t now) {
  uint64_t n = ++sent_;
  FrameText f(scratch_.data(), scratch_.size());
  if (opts_.reference) {
    // The shape of longlink's push (src/proto/reply.cc AppendMsg).
    f.Add("{\"t\":\"msg\",\"conv\":\"g:").Add(group_).Add("\",\"seq\":").Add(n);
    f.Add(",\"from\":\"u0\",\"device\":\"pub\",\"ts\":").Add(now / 1000000);
    f.Add(",\"cmid\":\"").Add(tag_).Add(".").Add(n).Add("\",\"body\":");
  } else {
    if (send_ns_.size() <= n)
      send_ns_.resize(std::max<size_t>(n + 1, send_ns_.size() * 2), 0);
    send_ns_[n] = now;
    f.Add("{\"t\":\"send\",\"id\":").Add(n).Add(",\"to\":\"g:").Add(group_);
    f.Add("\",\"cmid\":\"").Add(tag_).Add(".").Add(n).Add("\",\"body\":");
  }
  AddBody(&f, now, opts_.size);
  f.Add("}");
  publisher()->SendText(f.data(), f.size());
}

void GroupRun::OnFrame(ImConn* c, uint8_t* data, size_t len) {
  bool is_pub = c->index() == uint32_t(opts_.members);
  if (!is_pub && HasPrefix(data, len, "{\"t\":\"msg\"")) {
    OnPush(&members_[c->index()], data, len);
  } else if (is_pub && HasPrefix(data, len, "{\"t\":\"ack\"")) {
    OnAck(data, len);
  } else if (HasPrefix(data, len, "{\"t\":\"error\"")) {
    OnErrorFrame(data, len);
  } else if (HasPrefix(data, len, "{\"t\":\"receipt\"")) {
    ++receipts_;  // only in groups of at most --receipt-group-limit members
  } else {
    ++bad_frames_;
  }
}

void GroupRun::OnPush(Member* m, uint8_t* data, size_t len) {
  uint64_t seq = 0;
  uint64_t t0 = 0;
  if (!ScanUint(data, len, "\"seq\":", &seq) || !ScanUint(data, len, "\"t0\":", &t0) || seq == 0) {
    ++bad_frames_;
    return;
  }
  uint64_t now = WsClient::read_time();
  ++deliveries_total_;
  if (InWindow(now)) {
    ++deliveries_in_window_;
    delivery_lat_.Record(now > t0 ? now - t0 : 0);
  }
  size_t word = size_t(seq >> 6);
  if (word >= m->seen.size())
    m->seen.resize(std::max(word + 1, m->seen.size() * 2), 0);
  uint64_t bit = uint64_t{1} << (seq & 63);
  if (m->seen[word] & bit) {
    ++m->duplicates;
  } else {
    m->seen[word] |= bit;
  }
  if (seq != m->next)
    ++m->out_of_order;
  while ((m->next >> 6) < m->seen.size() && (m->seen[m->next >> 6] >> (m->next & 63)) & 1)
    ++m->next;
  if (seq > m->read_high)
    m->read_high = seq;
}

void GroupRun::OnReadEnd(ImConn* c) {
  if (opts_.reference || opts_.no_recv || c->index() == uint32_t(opts_.members))
    return;
  Member& m = members_[c->index()];
  if (m.read_high <= m.recv_sent)
    return;
  m.recv_sent = m.read_high;
  char buf[160];
  FrameText f(buf, sizeof(buf));
  f.Add("{\"t\":\"recv\",\"conv\":\"g:").Add(group_).Add("\",\"seq\":").Add(m.recv_sent).Add("}");
  c->SendText(f.data(), f.size());
  ++recvs_sent_;
}

void GroupRun::OnAck(uint8_t* data, size_t len) {
  uint64_t id = 0;
  uint64_t seq = 0;
  if (!ScanUint(data, len, "\"id\":", &id) || !ScanUint(data, len, "\"seq\":", &seq) ||
      id >= send_ns_.size()) {
    ++bad_frames_;
    return;
  }
  uint64_t now = WsClient::read_time();
  ++acks_total_;
  if (Contains(data, len, "\"dup\":true"))
    ++dup_acks_;
  if (seq > ack_high_seq_)
    ack_high_seq_ = seq;
  if (InWindow(now)) {
    ++acks_in_window_;
    ack_lat_.Record(now - send_ns_[id]);
  }
}

void GroupRun::OnErrorFrame(uint8_t* data, size_t len) {
  ++error_frames_;
  if (error_frames_ <= 5)
    std::fprintf(stderr, "imload: error frame: %.*s\n", int(len), data);
}

bool GroupRun::Report() {
  // Pushes reach a connection in seq order, so a seq missing below the
  // highest one a member got is lost (a hole); one above it may still have
  // been on its way when the drain ended (the tail).
  uint64_t last = expected_last();
  uint64_t missing = 0;  // holes + tail
  uint64_t holes = 0;
  uint64_t duplicates = 0;
  uint64_t out_of_order = 0;
  uint64_t behind = 0;      // members whose contiguous prefix ends before `last`
  uint64_t unexpected = 0;  // seqs received above `last` (pushed but never acked)
  for (const auto& m : members_) {
    uint64_t high = 0;
    for (uint64_t s = uint64_t(m.seen.size()) * 64; s-- > 1;) {
      if ((m.seen[s >> 6] >> (s & 63)) & 1) {
        high = s;
        break;
      }
    }
    for (uint64_t s = 1; s <= last; ++s) {
      size_t w = size_t(s >> 6);
      if (w >= m.seen.size() || !((m.seen[w] >> (s & 63)) & 1)) {
        ++missing;
        if (s < high)
          ++holes;
      }
    }
    for (uint64_t s = last + 1; s < uint64_t(m.seen.size()) * 64; ++s) {
      if ((m.seen[s >> 6] >> (s & 63)) & 1)
        ++unexpected;
    }
    duplicates += m.duplicates;
    out_of_order += m.out_of_order;
    if (m.next <= last)
      ++behind;
  }
  double secs = measure_end_ == UINT64_MAX ? 0 : double(measure_end_ - measure_start_) / 1e9;
  CpuUse cpu = CpuBetween(cpu_start_, cpu_end_);
  double deliveries_per_s = secs > 0 ? double(deliveries_in_window_) / secs : 0;
  double sent_per_s = secs > 0 ? double(sent_at_end_ - sent_at_start_) / secs : 0;
  double acks_per_s = secs > 0 ? double(acks_in_window_) / secs : 0;
  // Server CPU per delivered message, in microseconds.
  double cpu_us_per_delivery = cpu.server_s >= 0 && deliveries_in_window_ > 0
                                   ? cpu.server_s * 1e6 / double(deliveries_in_window_)
                                   : -1;
  uint64_t errors = error_frames_ + dup_acks_ + bad_frames_ + dropped_ + open_failed_;
  const char* target = opts_.reference ? "reference" : "longlink";
  std::printf(
      "group %s members=%d rate=%.0f: %.0f deliveries/s (offered %.0f), latency p50 %.1f"
      " us p99 %.1f us, missing %" PRIu64 " (holes %" PRIu64 "), duplicates %" PRIu64
      ", errors %" PRIu64 "; server cpu %.0f%% (%.2f us/delivery), imload cpu %.0f%%\n",
      target, opts_.members, opts_.rate, deliveries_per_s, opts_.rate * double(opts_.members),
      Us(delivery_lat_.ValueAtPercentile(50)), Us(delivery_lat_.ValueAtPercentile(99)), missing,
      holes, duplicates, errors, cpu.server_pct, cpu_us_per_delivery, cpu.self_pct);
  std::printf(
      "RESULT mode=group target=%s members=%d rate=%.0f size=%zu recv=%d duration_s=%.2f"
      " sent_per_s=%.1f deliveries=%" PRIu64
      " deliveries_per_s=%.0f"
      " offered_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f"
      " acks_per_s=%.1f ack_p50_us=%.1f ack_p99_us=%.1f sent=%" PRIu64 " acked=%" PRIu64
      " last_seq=%" PRIu64 " missing=%" PRIu64 " holes=%" PRIu64 " duplicates=%" PRIu64
      " unexpected=%" PRIu64 " behind=%" PRIu64 " out_of_order=%" PRIu64 " recvs=%" PRIu64
      " receipts=%" PRIu64 " drain_s=%.2f errors=%" PRIu64 " error_frames=%" PRIu64
      " bad_frames=%" PRIu64 " open_failed=%" PRIu64 " open_s=%.2f dropped=%" PRIu64
      " close_timeouts=%" PRIu64
      " imload_cpu_pct=%.1f server_cpu_pct=%.1f"
      " server_cpu_us_per_delivery=%.3f other_cpu_pct=%.1f steal_pct=%.1f\n",
      target, opts_.members, opts_.rate, opts_.size, opts_.reference || opts_.no_recv ? 0 : 1, secs,
      sent_per_s, deliveries_in_window_, deliveries_per_s, opts_.rate * double(opts_.members),
      Us(delivery_lat_.ValueAtPercentile(50)), Us(delivery_lat_.ValueAtPercentile(99)),
      Us(delivery_lat_.ValueAtPercentile(99.9)), Us(delivery_lat_.max()), acks_per_s,
      Us(ack_lat_.ValueAtPercentile(50)), Us(ack_lat_.ValueAtPercentile(99)), sent_, acks_total_,
      last, missing, holes, duplicates, unexpected, behind, out_of_order, recvs_sent_, receipts_,
      drain_s_, errors, error_frames_, bad_frames_, open_failed_, double(open_ns_) / 1e9, dropped_,
      close_timeouts_, cpu.self_pct, cpu.server_pct, cpu_us_per_delivery, cpu.other_pct,
      cpu.steal_pct);
  std::fflush(stdout);
  bool all_acked = opts_.reference || acks_total_ == sent_;
  return errors == 0 && missing == 0 && duplicates == 0 && unexpected == 0 && all_acked && secs > 0;
}

}  // namespace

int RunGroup(const Options& opts) {
  GroupRun run(opts);
  return run.Run();
}

}  // namespace longlink::imload
