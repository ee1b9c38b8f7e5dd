#include "cli/flags.h"

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "auth/jwt.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "proto/ids.h"
#include "base/log.h"
#include "net/listener.h"

namespace longlink::cli {

const char* const kVersion = LONGLINK_VERSION;

namespace {

// A bad value: the message is the whole line printed.
struct BadValue : std::runtime_error {
  using std::runtime_error::runtime_error;
};

uint64_t Bytes(const std::string& flag, const std::string& v, uint64_t min = 0) {
  auto b = ParseBytes(v);
  if (!b || *b < min) {
    throw BadValue(flag + ": invalid size '" + v + "' (bytes, or with KiB/MiB/GiB" +
                   (min > 0 ? "; at least " + std::to_string(min) : std::string()) + ")");
  }
  return *b;
}

uint64_t Seconds(const std::string& flag, const std::string& v) {
  auto s = ParseUint(v, 86400 * 365);
  if (!s || *s == 0) throw BadValue(flag + ": invalid value '" + v + "' (whole seconds, at least 1)");
  return *s;
}

uint64_t Uint(const std::string& flag, const std::string& v, uint64_t min, uint64_t max) {
  auto n = ParseUint(v, max);
  if (!n || *n < min) {
    throw BadValue(flag + ": invalid value '" + v + "' (an integer from " + std::to_string(min) +
                   " to " + std::to_string(max) + ")");
  }
  return *n;
}

// A secret or key is a short line; anything but a regular file of at most
// this much is refused before it is read (a FIFO would block the start, a
// device like /dev/zero never end).
constexpr off_t kMaxSecretFile = 64 * 1024;

std::string ReadSecretFile(const std::string& flag, const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) {
    throw BadValue(flag + ": cannot read '" + path + "': " + std::strerror(errno));
  }
  if (S_ISDIR(sb.st_mode)) throw BadValue(flag + ": '" + path + "' is a directory");
  if (!S_ISREG(sb.st_mode)) throw BadValue(flag + ": '" + path + "' is not a regular file");
  if (sb.st_size > kMaxSecretFile) {
    throw BadValue(flag + ": '" + path + "' is larger than 64 KiB (a secret is one short line)");
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw BadValue(flag + ": cannot read '" + path + "': " + std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) throw BadValue(flag + ": '" + path + "' is empty");
  return s;
}

void PrepareDataDir(const std::string& dir) {
  // mkdir -p, then check we can write there.
  std::string partial;
  for (size_t i = 0; i <= dir.size(); i++) {
    if (i == dir.size() || (dir[i] == '/' && i > 0)) {
      partial = dir.substr(0, i);
      if (::mkdir(partial.c_str(), 0750) != 0 && errno != EEXIST) {
        throw BadValue("--data-dir: cannot create '" + partial + "': " + std::strerror(errno));
      }
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw BadValue("--data-dir: '" + dir + "' is not a directory");
  }
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    throw BadValue("--data-dir: '" + dir + "' is not writable: " + std::strerror(errno));
  }
}

}  // namespace

ParseOutcome ParseFlags(int argc, char** argv, server::Config* cfg) {
  CLI::App app{"longlink: an instant-messaging server (WebSocket, exactly-once, in order)",
               "longlink"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.get_formatter()->column_width(40);
  bool version = false;
  std::string listen = cfg->listen, threads, storage = "disk", fsync = "always", fsync_ms,
              auth = "jwt", jwt_file, api_file, max_body, max_message, max_outbuf, rate,
              max_conns, receipt_limit, hello_timeout, heartbeat, ack_timeout, retention,
              segment_size, partitions, log_level = "info", request_timeout, keepalive_timeout, max_header,
              io_uring = "on";
  bool echo = false, web = false;
  app.add_flag("--version", version, "Print the version and exit");
  app.add_option("--listen", listen, "HOST:PORT of every shard's listening socket [127.0.0.1:8080]");
  app.add_option("--threads", threads, "Shards (event loops) [number of cores]");
  app.add_option("--data-dir", cfg->data_dir, "Log directory, created if missing [./data]");
  app.add_option("--storage", storage, "disk|memory; memory writes nothing [disk]");
  app.add_option("--fsync", fsync, "always|interval|never [always]");
  app.add_option("--fsync-ms", fsync_ms, "Interval of --fsync interval, ms [1000]");
  app.add_option("--auth", auth, "jwt|none; none is for development [jwt]");
  app.add_option("--jwt-secret-file", jwt_file, "HS256 secret [env LONGLINK_JWT_SECRET]");
  app.add_option("--api-key-file", api_file, "HTTP API key [env LONGLINK_API_KEY]");
  app.add_flag("--echo", echo, "Enable the /echo WebSocket endpoint");
  app.add_flag("--web", web, "Serve the web client at / [on under --auth none]");
  app.add_option("--max-body", max_body, "Largest send body, B [64KiB]");
  app.add_option("--max-message", max_message, "Largest WebSocket message or HTTP request, B [16MiB]");
  app.add_option("--max-outbuf", max_outbuf, "Unsent bytes per connection before 4008, B [8MiB]");
  app.add_option("--rate", rate, "Frames per second per connection [200]");
  app.add_option("--max-conns", max_conns, "WebSocket connections; more get 503 [1000000]");
  app.add_option("--receipt-group-limit", receipt_limit, "No receipts in bigger groups [100]");
  app.add_option("--hello-timeout", hello_timeout, "Seconds to send hello [10]");
  app.add_option("--heartbeat", heartbeat, "Seconds of silence before a ping; twice: close 1001 [25]");
  app.add_option("--ack-timeout", ack_timeout, "Seconds before an unacked push is resent [10]");
  app.add_option("--retention", retention, "Drop log segments older than this: N{s,m,h,d} [forever]");
  app.add_option("--segment-size", segment_size, "Log segment size, B [64MiB]");
  app.add_option("--partitions", partitions,
                 "Log partitions of a new --data-dir (fixed once created) [max(8, threads)]");
  app.add_option("--log-level", log_level, "debug|info|warn|error [info]");
  app.add_option("--request-timeout", request_timeout, "Seconds for an HTTP request to arrive whole; then 408 [10]");
  app.add_option("--keepalive-timeout", keepalive_timeout, "Seconds an idle keep-alive HTTP connection is kept [60]");
  app.add_option("--io-uring", io_uring,
                 "on|off; on: a turn's reads, and its writes, of many connections are one io_uring submission each [on]");
  app.add_option("--max-header", max_header, "Largest HTTP request line + headers, B; more: 431 [16KiB]");

  try {
    app.parse(argc, argv);
    if (version) {
      std::printf("longlink %s\n", kVersion);
      return {true, 0};
    }
    auto addr = net::ParseListenAddress(listen);
    if (!addr.ok()) throw BadValue("--listen: " + addr.status().message());
    cfg->listen = listen;
    if (!threads.empty()) cfg->threads = int(Uint("--threads", threads, 1, 1024));
    if (storage == "disk") {
      cfg->storage = server::StorageKind::kDisk;
    } else if (storage == "memory") {
      cfg->storage = server::StorageKind::kMemory;
    } else {
      throw BadValue("--storage: expected disk or memory, got '" + storage + "'");
    }
    if (fsync == "always") {
      cfg->fsync = server::FsyncMode::kAlways;
    } else if (fsync == "interval") {
      cfg->fsync = server::FsyncMode::kInterval;
    } else if (fsync == "never") {
      cfg->fsync = server::FsyncMode::kNever;
    } else {
      throw BadValue("--fsync: expected always, interval or never, got '" + fsync + "'");
    }
    if (!fsync_ms.empty()) cfg->fsync_ms = Uint("--fsync-ms", fsync_ms, 1, 3600000);
    if (auth == "jwt") {
      cfg->auth = server::AuthMode::kJwt;
    } else if (auth == "none") {
      cfg->auth = server::AuthMode::kNone;
    } else {
      throw BadValue("--auth: expected jwt or none, got '" + auth + "'");
    }
    if (!jwt_file.empty()) {
      cfg->jwt_secret = ReadSecretFile("--jwt-secret-file", jwt_file);
    } else if (const char* e = std::getenv("LONGLINK_JWT_SECRET")) {
      cfg->jwt_secret = e;
    }
    if (!api_file.empty()) {
      cfg->api_key = ReadSecretFile("--api-key-file", api_file);
    } else if (const char* e = std::getenv("LONGLINK_API_KEY")) {
      cfg->api_key = e;
    }
    cfg->echo = echo;
    cfg->web = web || cfg->auth == server::AuthMode::kNone;
    if (!max_body.empty()) cfg->max_body = Bytes("--max-body", max_body, 1);
    if (!max_message.empty()) cfg->max_message = Bytes("--max-message", max_message, 1);
    if (!max_outbuf.empty()) cfg->max_outbuf = Bytes("--max-outbuf", max_outbuf, 1);
    if (!rate.empty()) cfg->rate = Uint("--rate", rate, 1, 1000000);
    if (!max_conns.empty()) cfg->max_conns = Uint("--max-conns", max_conns, 1, 100000000);
    if (!receipt_limit.empty()) {
      cfg->receipt_group_limit = Uint("--receipt-group-limit", receipt_limit, 0, 100000000);
    }
    if (!hello_timeout.empty()) cfg->hello_timeout_s = Seconds("--hello-timeout", hello_timeout);
    if (!heartbeat.empty()) cfg->heartbeat_s = Seconds("--heartbeat", heartbeat);
    if (!ack_timeout.empty()) cfg->ack_timeout_s = Seconds("--ack-timeout", ack_timeout);
    if (!retention.empty() && retention != "forever") {  // "forever": the default, said
      auto d = ParseDurationSeconds(retention);
      if (!d || *d == 0) throw BadValue("--retention: invalid duration '" + retention + "' (N with s, m, h or d)");
      cfg->retention_s = *d;
    }
    if (!segment_size.empty()) cfg->segment_size = Bytes("--segment-size", segment_size, 4096);
    if (!partitions.empty()) cfg->partitions = uint32_t(Uint("--partitions", partitions, 1, 1000));
    if (!request_timeout.empty()) cfg->request_timeout_s = Seconds("--request-timeout", request_timeout);
    if (!keepalive_timeout.empty()) {
      cfg->keepalive_timeout_s = Seconds("--keepalive-timeout", keepalive_timeout);
    }
    if (!max_header.empty()) cfg->max_header = Bytes("--max-header", max_header, 256);
    if (io_uring == "on" || io_uring == "off") {
      cfg->io_uring = io_uring == "on";
    } else {
      throw BadValue("--io-uring: expected on or off, got '" + io_uring + "'");
    }
    LogLevel level;
    if (!ParseLogLevel(log_level.c_str(), &level)) {
      throw BadValue("--log-level: expected debug, info, warn or error, got '" + log_level + "'");
    }
    SetLogLevel(level);
    if (cfg->storage == server::StorageKind::kDisk) PrepareDataDir(cfg->data_dir);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return {true, 0};
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (char& ch : msg) {
      if (ch == '\n') ch = ' ';
    }
    std::fprintf(stderr, "longlink: %s (see --help)\n", msg.c_str());
    return {true, 2};
  } catch (const BadValue& e) {
    std::fprintf(stderr, "longlink: %s\n", e.what());
    return {true, 2};
  }
  return {false, 0};
}

}  // namespace longlink::cli

namespace longlink::cli {

int RunTokenCommand(int argc, char** argv) {
  CLI::App app{"Prints a JWT (HS256) for a user, signed with the server's secret", "longlink token"};
  std::string user, ttl = "1h", secret_file;
  app.add_option("--user", user, "The user id (the token's sub)")->required();
  app.add_option("--ttl", ttl, "Lifetime: N{s,m,h,d} [1h]");
  app.add_option("--jwt-secret-file", secret_file, "HS256 secret [env LONGLINK_JWT_SECRET]");
  try {
    app.parse(argc, argv);
    if (!proto::IsValidId(user)) {
      throw BadValue("--user: '" + user + "' is not a valid id (1..64 of [A-Za-z0-9_.@-])");
    }
    auto secs = ParseDurationSeconds(ttl);
    if (!secs || *secs == 0) throw BadValue("--ttl: invalid duration '" + ttl + "'");
    std::string secret;
    if (!secret_file.empty()) {
      secret = ReadSecretFile("--jwt-secret-file", secret_file);
    } else if (const char* e = std::getenv("LONGLINK_JWT_SECRET")) {
      secret = e;
    }
    if (secret.empty()) {
      throw BadValue("no secret: pass --jwt-secret-file or set LONGLINK_JWT_SECRET");
    }
    int64_t now = int64_t(WallMs() / 1000);
    std::printf("%s\n", auth::SignHs256(user, now + int64_t(*secs), now, secret).c_str());
    return 0;
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (char& ch : msg) {
      if (ch == '\n') ch = ' ';
    }
    std::fprintf(stderr, "longlink token: %s (see --help)\n", msg.c_str());
    return 2;
  } catch (const BadValue& e) {
    std::fprintf(stderr, "longlink token: %s\n", e.what());
    return 2;
  }
}

}  // namespace longlink::cli
