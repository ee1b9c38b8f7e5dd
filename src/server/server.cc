#include "server/server.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "base/log.h"
#include "core/disk_engine.h"
#include "net/listener.h"
#include "server/session.h"

namespace longlink::server {

Server::Server(const Config& cfg) : cfg_(cfg) {
  if (cfg_.threads <= 0) {
    unsigned n = std::thread::hardware_concurrency();
    cfg_.threads = n == 0 ? 1 : int(n);
  }
}

Server::~Server() { Wait(); }

Status Server::Start() {
  auto addr = net::ParseListenAddress(cfg_.listen);
  if (!addr.ok()) return Status::Invalid("--listen: " + addr.status().message());

  // The log first: nothing listens until it is recovered (/readyz).
  std::vector<core::Recovered> recovered(size_t(cfg_.threads));
  uint32_t partitions = cfg_.partitions != 0 ? cfg_.partitions
                                             : uint32_t(std::max(8, cfg_.threads));
  if (cfg_.storage == StorageKind::kDisk) {
    auto st = storage::Store::Open(storage::PosixEnv(), cfg_.data_dir, partitions,
                                   cfg_.segment_size);
    if (!st.ok()) return Status::Invalid("--data-dir: " + st.status().message());
    store_ = std::move(st.value());
    partitions = store_->partitions();
    Status s = core::RecoverLog(store_.get(), cfg_.threads, &recovered);
    if (!s.ok()) return Status::Invalid("--data-dir: recovery failed: " + s.message());
    // fsyncs run on libuv's threadpool: room for every partition's at once.
    if (std::getenv("UV_THREADPOOL_SIZE") == nullptr) {
      std::string n = std::to_string(std::clamp<uint32_t>(partitions, 4, 64));
      ::setenv("UV_THREADPOOL_SIZE", n.c_str(), 0);
    }
  }

  auto fds = net::OpenListeners(&addr.value(), cfg_.threads, 4096);
  if (!fds.ok()) return fds.status();
  port_ = addr->port;

  net::ShardOptions opts;
  // Tick often enough for the shortest timer we keep (hello timeout,
  // heartbeat, request timeout) to fire within a tenth of it late (never
  // early), at least every 50 ms and at most once per second: the default
  // --hello-timeout 10 closes at 10-11 s, --hello-timeout 1 at 1-1.1 s.
  uint64_t shortest = std::min({cfg_.hello_timeout_s, cfg_.heartbeat_s, cfg_.request_timeout_s});
  opts.tick_ms = uint32_t(std::clamp<uint64_t>(shortest * 1000 / 10, 50, 1000));
  opts.io_uring = cfg_.io_uring;
  for (int i = 0; i < cfg_.threads; i++) {
    shards_.push_back(std::make_unique<net::Shard>(i, opts));
    sessions_.push_back(std::make_unique<Session>(this, shards_.back().get()));
  }
  core::Options copts;
  copts.ack_timeout_ms = cfg_.ack_timeout_s * 1000;
  copts.receipt_group_limit = cfg_.receipt_group_limit;
  copts.heartbeat_ms = cfg_.heartbeat_s * 1000;
  copts.max_body = cfg_.max_body;
  copts.partitions = partitions;
  if (store_) copts.log_version = store_->version();
  core::DiskOptions dopts;
  dopts.fsync = cfg_.fsync == FsyncMode::kAlways     ? core::FsyncPolicy::kAlways
                : cfg_.fsync == FsyncMode::kInterval ? core::FsyncPolicy::kInterval
                                                     : core::FsyncPolicy::kNever;
  dopts.fsync_ms = cfg_.fsync_ms;
  dopts.retention_ms = cfg_.retention_s * 1000;
  std::vector<core::Hub*> hubs;
  for (int i = 0; i < cfg_.threads; i++) {
    std::unique_ptr<core::Engine> engine;
    if (store_) {
      engine = std::make_unique<core::DiskEngine>(shards_[i]->loop(), store_.get(), i,
                                                  cfg_.threads, dopts, &shards_[i]->metrics());
    }
    hubs_.push_back(std::make_unique<core::Hub>(shards_[i].get(), cfg_.threads, copts,
                                                sessions_[i].get(), std::move(engine)));
    sessions_[i]->SetHub(hubs_.back().get());
    hubs.push_back(hubs_.back().get());
  }
  // Each hub takes its share of the recovered state on its own thread (the
  // hubs share nothing, and their shards have not started).
  {
    std::vector<std::thread> adopters;
    for (int i = 1; i < cfg_.threads; i++) {
      adopters.emplace_back([&, i] { hubs[size_t(i)]->Adopt(std::move(recovered[size_t(i)])); });
    }
    hubs[0]->Adopt(std::move(recovered[0]));
    for (auto& t : adopters) t.join();
  }
  for (auto& h : hubs_) h->Connect(hubs);
  if (cfg_.auth == AuthMode::kJwt && cfg_.jwt_secret.empty()) {
    LL_WARN("--auth jwt without a secret (--jwt-secret-file or LONGLINK_JWT_SECRET): every hello will be refused");
  }
  for (int i = 0; i < cfg_.threads; i++) {
    shards_[i]->Start(sessions_[i].get(), fds.value()[i], &stopped_shards_, cfg_.threads);
  }
  while (!ready()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  LL_INFO("listening on %s shards=%d version=%s", net::FormatAddress(*addr).c_str(), cfg_.threads,
          LONGLINK_VERSION);
  return Status::Ok();
}

void Server::Stop() {
  for (auto& s : shards_) s->Stop();
}

void Server::Wait() {
  for (auto& s : shards_) s->Join();
}

bool Server::ready() const {
  for (auto& s : shards_) {
    if (!s->listening()) return false;
  }
  return !shards_.empty();
}

std::vector<const ops::ShardMetrics*> Server::metrics() const {
  std::vector<const ops::ShardMetrics*> v;
  for (auto& s : shards_) v.push_back(&s->metrics());
  return v;
}

bool Server::TryAddSocket() {
  int64_t n = sockets_.fetch_add(1, std::memory_order_relaxed);
  if (uint64_t(n) >= cfg_.max_conns) {
    sockets_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void Server::RemoveSocket() { sockets_.fetch_sub(1, std::memory_order_relaxed); }

}  // namespace longlink::server
