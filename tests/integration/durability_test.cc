// PROTOCOL.md section 8 against the real binary on the embedded log: every
// acked message survives kill -9 at a random moment, byte for byte, with
// sequences that continue without a gap or a repeat and cmids still
// deduplicated; a restart with another --threads finds everything; group
// changes, cursors and cmids survive; --storage memory writes nothing; an
// unusable data directory is refused with one line.
//
// LL_CRASH_ROUNDS (default 20) sets the number of kill -9 rounds.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "support/im_client.h"
#include "support/jwt.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

namespace fs = std::filesystem;

class DataDir {
 public:
  DataDir() {
    std::string t = (fs::temp_directory_path() / "ll-durable-XXXXXX").string();
    root_ = ::mkdtemp(t.data()) != nullptr ? t : "";
  }
  ~DataDir() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string path() const { return root_ + "/data"; }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

struct Acked {
  std::string from, cmid, body;
  uint64_t seq = 0;
  int64_t ts = 0;
};

// Everything acknowledged so far, by conversation and seq.
struct Ledger {
  std::mutex mu;
  std::map<std::string, std::map<uint64_t, Acked>> convs;
  uint64_t count = 0;
  void Add(const std::string& conv, Acked a) {
    std::lock_guard<std::mutex> l(mu);
    auto [it, fresh] = convs[conv].emplace(a.seq, a);
    if (!fresh) {
      // The same seq acked twice must be the same message (a dup ack).
      CHECK_MESSAGE(it->second.cmid == a.cmid, "seq " << a.seq << " of " << conv
                                                      << " acked for two cmids");
    } else {
      count++;
    }
  }
};

std::vector<std::string> Args(const Secrets& s, const DataDir& d, int threads,
                              const char* fsync = "always") {
  return MsgArgs(s, {"--storage", "disk", "--data-dir", d.path(), "--threads",
                     std::to_string(threads), "--fsync", fsync, "--rate", "100000",
                     "--segment-size", "256KiB"});
}

// Every message of `conv` through GET /api/history, paging with after.
bool History(uint16_t port, const std::string& conv, std::vector<Json>* out, std::string* err) {
  uint64_t after = 0;
  for (int pages = 0; pages < 10000; pages++) {
    ApiReply r = Api(port, "GET",
                     "/api/history?conv=" + conv + "&after=" + std::to_string(after) +
                         "&limit=1000");
    if (r.status != 200) {
      *err = "history " + conv + ": status " + std::to_string(r.status) + " " + r.resp.body;
      return false;
    }
    const auto& items = r.json["msgs"].items();
    for (const Json& m : items) out->push_back(m);
    if (items.empty() || !r.json["more"].as_bool()) return true;
    after = uint64_t(items.back().Int("seq"));
  }
  *err = "too many pages";
  return false;
}

// Checks that the server has every acked message exactly as acked, and
// that each conversation's seqs are 1..n without a gap. Returns conv -> n.
std::map<std::string, uint64_t> Verify(uint16_t port, Ledger& ledger) {
  std::map<std::string, uint64_t> last;
  std::lock_guard<std::mutex> l(ledger.mu);
  for (auto& [conv, acked] : ledger.convs) {
    std::vector<Json> msgs;
    std::string err;
    REQUIRE_MESSAGE(History(port, conv, &msgs, &err), err);
    INFO("conv " << conv);
    for (size_t i = 0; i < msgs.size(); i++) {
      REQUIRE_MESSAGE(uint64_t(msgs[i].Int("seq")) == i + 1, "gap or repeat at index " << i);
    }
    last[conv] = msgs.size();
    REQUIRE(msgs.size() >= acked.rbegin()->first);
    for (auto& [seq, a] : acked) {
      const Json& m = msgs[seq - 1];
      INFO("seq " << seq << " item " << m);
      CHECK(m.Str("conv") == conv);
      CHECK(m.Str("from") == a.from);
      CHECK(m.Str("cmid") == a.cmid);
      CHECK(m.Int("ts") == a.ts);
      CHECK(m["body"].raw() == a.body);
    }
  }
  return last;
}

std::string BodyFor(std::mt19937& rng, int n) {
  static const char* words[] = {"hello", "wörld", "\\\"quoted\\\"", "emoji \\ud83d\\ude00", "tab\\t"};
  std::string b = "{\"n\":" + std::to_string(n) + ",\"text\":\"";
  int k = int(rng() % 4) + 1;
  for (int i = 0; i < k; i++) b += std::string(words[rng() % 5]) + " ";
  b += "\",\"list\":[1,2.5,true,null,{\"x\":\"y\"}],\"pad\":\"" +
       std::string(rng() % 300, 'p') + "\"}";
  return b;
}

// One client: sends pipelined batches to its conversations until the
// connection dies, recording every ack.
void Load(uint16_t port, const std::string& user, const std::vector<std::string>& tos,
          int round, uint32_t seed, Ledger* ledger, std::atomic<bool>* stop) {
  ImClient c;
  if (!c.Login(port, user)) return;
  std::mt19937 rng(seed);
  int n = 0;
  while (!stop->load()) {
    struct Out {
      int64_t id;
      std::string to, cmid, body;
    };
    std::vector<Out> batch;
    for (int i = 0; i < 16; i++) {
      Out o;
      o.id = c.NextId();
      o.to = tos[rng() % tos.size()];
      o.cmid = "r" + std::to_string(round) + "-" + user + "-" + std::to_string(n++);
      o.body = BodyFor(rng, n);
      if (!c.Send(SendFrame(o.to, o.cmid, o.body, o.id))) return;
      batch.push_back(std::move(o));
    }
    for (const Out& o : batch) {
      Json ack;
      if (!c.WaitId(o.id, &ack, 5s)) return;  // killed
      if (ack.Str("t") != "ack") continue;    // e.g. an error when the log failed
      Acked a;
      a.from = user;
      a.cmid = o.cmid;
      a.body = o.body;
      a.seq = uint64_t(ack.Int("seq"));
      a.ts = ack.Int("ts");
      ledger->Add(ack.Str("conv"), a);
    }
  }
}

// The presence of `users` over /ws (a presence request of `c`) and over
// GET /api/presence: both must answer the same object; returns it.
Json PresenceBoth(uint16_t port, ImClient& c, const std::vector<std::string>& users) {
  std::string list, query;
  for (const std::string& u : users) {
    list += (list.empty() ? "\"" : ",\"") + u + "\"";
    query += (query.empty() ? "" : ",") + u;
  }
  const int64_t id = c.NextId();
  Json ws = MustRequest(
      c, R"({"t":"presence","id":)" + std::to_string(id) + R"(,"users":[)" + list + "]}", id);
  INFO("ws: " << ws);
  REQUIRE(ws.Str("t") == "presence");
  ApiReply api = Api(port, "GET", "/api/presence?users=" + query);
  INFO("api: " << api);
  REQUIRE(api.status == 200);
  CHECK(api.json["users"].raw() == ws["users"].raw());
  return ws["users"];
}

// Polls GET /api/presence until `user` is offline with a last_seen; returns
// it (0: not within 5 s).
int64_t WaitLastSeen(uint16_t port, const std::string& user) {
  for (int i = 0; i < 100; i++) {
    ApiReply r = Api(port, "GET", "/api/presence?users=" + user);
    if (r.status == 200 && r.json["users"][user].Has("last_seen")) {
      return r.json["users"][user].Int("last_seen");
    }
    std::this_thread::sleep_for(50ms);
  }
  return 0;
}

// Logs `user` in from one device and out again; returns the last_seen that
// presence then reports (0 if it never does).
int64_t SeenOnce(uint16_t port, const std::string& user, const std::string& device) {
  {
    ImClient c;
    if (!c.Login(port, user, device)) return 0;
    c.Close();
  }
  return WaitLastSeen(port, user);
}

// Starts a server with `args` on the data left by an earlier one and returns
// the presence of `users` as a fresh session and the API both report it.
Json PresenceAfterRestart(const std::vector<std::string>& args,
                          const std::vector<std::string>& users) {
  Server srv(args);
  LL_START(srv);
  ImClient x;
  LL_LOGIN(x, srv.port(), "xavier", "phone");
  return PresenceBoth(srv.port(), x, users);
}

// The presence entry of a user who is offline and was last seen at `ms`.
std::string OfflineSince(int64_t ms) {
  return R"({"online":false,"last_seen":)" + std::to_string(ms) + "}";
}

// The payload of the kLastSeen record of `user` at `ms` (record_format.h:
// string user, varint last_seen_ms).
std::string LastSeenPayload(const std::string& user, int64_t ms) {
  std::string p(1, char(user.size()));  // the names here are shorter than 128
  p += user;
  for (auto v = uint64_t(ms);; v >>= 7) {
    if (v < 0x80) {
      p.push_back(char(v));
      break;
    }
    p.push_back(char((v & 0x7f) | 0x80));
  }
  return p;
}

// The segment files under `dir` that contain `bytes`.
std::vector<std::string> FilesWith(const std::string& dir, const std::string& bytes) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.path().extension() != ".log")
      continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (data.find(bytes) != std::string::npos)
      out.push_back(e.path().string());
  }
  return out;
}

// Polls until a segment under `dir` holds `bytes` (written to the file, so
// a kill -9 cannot take it back).
bool WaitWritten(const std::string& dir, const std::string& bytes) {
  for (int i = 0; i < 100; i++) {
    if (!FilesWith(dir, bytes).empty())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace

TEST_CASE("durability: kill -9 at random moments loses no acked message (LL_CRASH_ROUNDS)") {
  Secrets s;
  DataDir d;
  int rounds = 20;
  if (const char* e = std::getenv("LL_CRASH_ROUNDS")) rounds = std::max(1, std::atoi(e));
  uint32_t seed = uint32_t(std::random_device{}());
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  Ledger ledger;
  const std::vector<std::string> users = {"u0", "u1", "u2", "u3"};
  std::map<std::string, std::vector<std::string>> tos;
  for (const auto& u : users) {
    for (const auto& v : users) {
      if (u != v) tos[u].push_back("u:" + v);
    }
    tos[u].push_back("g:crash");
  }
  uint64_t dups_checked = 0, continued = 0;
  for (int round = 0; round <= rounds; round++) {
    int threads = 1 + round % 3;  // restarts also change --threads
    Server srv(Args(s, d, threads));
    REQUIRE_MESSAGE(srv.Start(), srv.error());
    LL_SERVER_INFO(srv);
    if (round == 0) REQUIRE(CreateGroup(srv.port(), "crash", users));
    auto last = Verify(srv.port(), ledger);
    // Acked cmids are still deduplicated, with the same seq; a new message
    // continues each conversation at last + 1.
    {
      std::lock_guard<std::mutex> l(ledger.mu);
      for (auto& [conv, acked] : ledger.convs) {
        const Acked& a = acked.rbegin()->second;
        ImClient c;
        REQUIRE(c.Login(srv.port(), a.from, "verify"));
        std::string to = conv.rfind("g:", 0) == 0 ? conv : "";
        if (to.empty()) {
          std::string rest = conv.substr(2);
          std::string x = rest.substr(0, rest.find(':')), y = rest.substr(rest.find(':') + 1);
          to = "u:" + (x == a.from ? y : x);
        }
        Json dup = MustRequest(c, SendFrame(to, a.cmid, a.body, 1), 1);
        CHECK(dup.Str("t") == "ack");
        CHECK(dup["dup"].as_bool());
        CHECK(uint64_t(dup.Int("seq")) == a.seq);
        dups_checked++;
        std::string cmid = "next-" + std::to_string(round) + "-" + conv;
        std::replace(cmid.begin(), cmid.end(), ':', '.');  // the id grammar
        Json next = MustRequest(c, SendFrame(to, cmid, "{\"next\":true}", 2), 2);
        REQUIRE(next.Str("t") == "ack");
        CHECK(uint64_t(next.Int("seq")) == last[conv] + 1);
        continued++;
        Acked na;
        na.from = a.from;
        na.cmid = cmid;
        na.body = "{\"next\":true}";
        na.seq = uint64_t(next.Int("seq"));
        na.ts = next.Int("ts");
        acked.emplace(na.seq, na);
        ledger.count++;
        c.Close();
      }
    }
    if (round == rounds) break;  // the last round only verifies
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (size_t i = 0; i < users.size(); i++) {
      clients.emplace_back(Load, srv.port(), users[i], tos[users[i]], round, seed + uint32_t(i),
                           &ledger, &stop);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 400));
    REQUIRE(srv.Signal(SIGKILL));
    REQUIRE(srv.Wait(10s).has_value());
    stop = true;
    for (auto& t : clients) t.join();
  }
  MESSAGE("kill -9 rounds: " << rounds << ", acked messages checked: " << ledger.count
                             << ", dup acks checked: " << dups_checked
                             << ", continuations checked: " << continued);
  CHECK(ledger.count > uint64_t(rounds) * 10);
}

TEST_CASE("durability: a restart with another --threads keeps groups, cursors, cmids and history") {
  Secrets s;
  DataDir d;
  std::string ack_ts;
  {
    Server srv(Args(s, d, 3));
    REQUIRE_MESSAGE(srv.Start(), srv.error());
    LL_SERVER_INFO(srv);
    REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}, true));
    ImClient a, b;
    REQUIRE(a.Login(srv.port(), "alice"));
    REQUIRE(b.Login(srv.port(), "bob"));
    for (int i = 1; i <= 150; i++) {
      Json ack = MustRequest(a, SendFrame(i % 2 ? "u:bob" : "g:team", "c" + std::to_string(i),
                                          "{\"i\":" + std::to_string(i) + "}", i),
                             i);
      REQUIRE(ack.Str("t") == "ack");
    }
    Json ok = MustRequest(b, R"({"t":"recv","id":7,"conv":"d:alice:bob","seq":60})", 7);
    CHECK(ok.Str("t") == "ok");
    ok = MustRequest(b, R"({"t":"read","id":8,"conv":"d:alice:bob","seq":50})", 8);
    CHECK(ok.Str("t") == "ok");
    Json join = MustRequest(b, R"({"t":"leave","id":9,"conv":"g:team"})", 9);
    CHECK(join.Str("t") == "ok");
    a.Close();
    b.Close();
  }  // SIGTERM: a clean stop
  Server srv(Args(s, d, 1));
  REQUIRE_MESSAGE(srv.Start(), srv.error());
  LL_SERVER_INFO(srv);
  ImClient b;
  REQUIRE(b.Login(srv.port(), "bob"));
  Json sync = MustRequest(b, R"({"t":"sync","id":1,"all":true})", 1);
  bool found = false;
  for (const Json& e : sync["convs"].items()) {
    if (e.Str("conv") == "d:alice:bob") {
      found = true;
      CHECK(e.Int("last") == 75);
      CHECK(e.Int("recv") == 60);
      CHECK(e.Int("read") == 50);
    }
    CHECK(e.Str("conv") != "g:team");  // bob left it
  }
  CHECK(found);
  ApiReply g = Api(srv.port(), "GET", "/api/groups/team");
  REQUIRE(g.status == 200);
  CHECK(g.json["open"].as_bool());
  CHECK(g.json["members"].raw() == "[\"alice\"]");
  ApiReply h = Api(srv.port(), "GET", "/api/history?conv=g:team&after=0&limit=1000");
  REQUIRE(h.status == 200);
  CHECK(h.json["msgs"].items().size() == 75);
  ImClient a;
  REQUIRE(a.Login(srv.port(), "alice"));
  Json dup = MustRequest(a, SendFrame("u:bob", "c1", "{}", 3), 3);
  CHECK(dup["dup"].as_bool());
  CHECK(dup.Int("seq") == 1);
  Json next = MustRequest(a, SendFrame("g:team", "new", "{}", 4), 4);
  CHECK(next.Int("seq") == 76);
}

TEST_CASE("durability: a recv and a read survive kill -9 once their turn is over (no fsync of their own)") {
  // Under --fsync always a cursor move waits for no fsync (section 8 lets
  // a cursor lag after a crash, never lead). It is written at the end of
  // the loop turn that handled it (its `ok` may leave just before), so once
  // a later frame is answered it is in the kernel, and kill -9 does not
  // take back what was written.
  Secrets s;
  DataDir d;
  {
    Server srv(Args(s, d, 1));
    REQUIRE_MESSAGE(srv.Start(), srv.error());
    LL_SERVER_INFO(srv);
    ImClient a, b;
    REQUIRE(a.Login(srv.port(), "alice"));
    REQUIRE(b.Login(srv.port(), "bob"));
    for (int i = 1; i <= 5; i++) {
      Json ack = MustRequest(a, SendFrame("u:bob", "c" + std::to_string(i), "{}", i), i);
      REQUIRE(ack.Int("seq") == i);
    }
    Json ok = MustRequest(b, R"({"t":"recv","id":7,"conv":"d:alice:bob","seq":4})", 7);
    REQUIRE(ok.Str("t") == "ok");
    ok = MustRequest(b, R"({"t":"read","id":8,"conv":"d:alice:bob","seq":3})", 8);
    REQUIRE(ok.Str("t") == "ok");
    // Sent after the ok, so handled in a later turn than the read.
    Json pong = MustRequest(b, R"({"t":"ping","id":9})", 9);
    REQUIRE(pong.Str("t") == "pong");
    REQUIRE(srv.Signal(SIGKILL));  // at once: well inside the 100 ms lazy sync
    REQUIRE(srv.Wait(10s).has_value());
  }
  Server srv(Args(s, d, 2));
  REQUIRE_MESSAGE(srv.Start(), srv.error());
  LL_SERVER_INFO(srv);
  ImClient b;
  REQUIRE(b.Login(srv.port(), "bob"));
  Json sync = MustRequest(b, R"({"t":"sync","id":1})", 1);
  bool found = false;
  for (const Json& e : sync["convs"].items()) {
    if (e.Str("conv") != "d:alice:bob")
      continue;
    found = true;
    CHECK(e.Int("last") == 5);
    CHECK(e.Int("recv") == 4);
    CHECK(e.Int("read") == 3);
  }
  CHECK(found);
}

TEST_CASE("durability: --fsync interval and never keep what a killed process wrote") {
  for (const char* mode : {"interval", "never"}) {
    INFO("--fsync " << mode);
    Secrets s;
    DataDir d;
    {
      Server srv(Args(s, d, 2, mode));
      REQUIRE_MESSAGE(srv.Start(), srv.error());
      ImClient a;
      REQUIRE(a.Login(srv.port(), "alice"));
      for (int i = 1; i <= 40; i++) {
        Json ack = MustRequest(a, SendFrame("u:bob", "k" + std::to_string(i), "{}", i), i);
        REQUIRE(ack.Int("seq") == i);
      }
      REQUIRE(srv.Signal(SIGKILL));
      REQUIRE(srv.Wait(10s).has_value());
    }
    Server srv(Args(s, d, 2, mode));
    REQUIRE_MESSAGE(srv.Start(), srv.error());
    ApiReply h = Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&after=0&limit=1000");
    REQUIRE(h.status == 200);
    CHECK(h.json["msgs"].items().size() == 40);
  }
}

TEST_CASE("durability: a corrupt record in a sealed segment loses only the records recovery cuts") {
  // PROTOCOL.md section 8: recovery cuts the file at its first corrupt
  // record; the records before it are served as written, and so are those
  // of the later segments (a cut in a sealed segment keeps them). 10
  // messages of ~1.2 KB in 4 KiB segments, a byte flipped in the 5th.
  Secrets s;
  DataDir d;
  const auto args = MsgArgs(s, {"--storage", "disk", "--data-dir", d.path(), "--threads", "1",
                                "--partitions", "1", "--segment-size", "4096", "--rate",
                                "100000"});
  auto body = [](int i) {
    return "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(1200, 'p') + "\"}";
  };
  {
    Server srv(args);
    REQUIRE_MESSAGE(srv.Start(), srv.error());
    ImClient a;
    REQUIRE(a.Login(srv.port(), "alice"));
    for (int i = 1; i <= 10; i++) {
      Json ack = MustRequest(a, SendFrame("u:bob", "c" + std::to_string(i), body(i), i), i);
      REQUIRE(ack.Int("seq") == i);
    }
    a.Close();
  }  // SIGTERM: a clean stop
  // Where each message's body lies: (segment file, offset).
  std::vector<std::pair<std::string, size_t>> at(11);
  std::map<std::string, std::string> files;
  for (auto& e : fs::directory_iterator(d.path() + "/p000")) {
    std::ifstream in(e.path(), std::ios::binary);
    files[e.path().string()] =
        std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  for (int i = 1; i <= 10; i++) {
    std::string needle = "{\"i\":" + std::to_string(i) + ",";
    for (auto& [f, data] : files) {
      size_t off = data.find(needle);
      if (off != std::string::npos) at[size_t(i)] = {f, off};
    }
    REQUIRE_MESSAGE(!at[size_t(i)].first.empty(), "message " << i << " not found");
  }
  // The cut drops 5 and what follows it in its segment, nothing else.
  std::vector<int64_t> expect;
  for (int i = 1; i <= 10; i++) {
    if (at[size_t(i)].first != at[5].first || at[size_t(i)].second < at[5].second) {
      expect.push_back(i);
    }
  }
  REQUIRE(expect.back() == 10);  // later segments are kept
  REQUIRE(expect.size() >= 6);
  {
    std::fstream f(at[5].first, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(std::streamoff(at[5].second + 20));  // inside the body
    f.put('q');
  }
  Server srv(args);
  REQUIRE_MESSAGE(srv.Start(), srv.error());
  LL_SERVER_INFO(srv);
  auto page = [&](const std::string& query, std::vector<int64_t>* seqs) {
    ApiReply r = Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&" + query);
    REQUIRE(r.status == 200);
    seqs->clear();
    for (const Json& m : r.json["msgs"].items()) {
      seqs->push_back(m.Int("seq"));
      CHECK(m["body"].raw() == body(int(m.Int("seq"))));  // as written
    }
    return r.json["more"].as_bool();
  };
  std::vector<int64_t> seqs;
  CHECK_FALSE(page("after=0&limit=100", &seqs));
  CHECK(seqs == expect);
  CHECK_FALSE(page("before=11&limit=100", &seqs));
  CHECK(seqs == expect);
  // Pages of 2 either way: every surviving seq once, in order, and never an
  // empty page that says there is more.
  for (const char* dir : {"after", "before"}) {
    INFO(dir);
    bool up = std::string(dir) == "after";
    std::vector<int64_t> all;
    int64_t from = up ? 0 : 11;
    for (int pages = 0; pages < 20; pages++) {
      bool more = page(std::string(dir) + "=" + std::to_string(from) + "&limit=2", &seqs);
      all.insert(up ? all.end() : all.begin(), seqs.begin(), seqs.end());
      if (!more) break;
      REQUIRE_MESSAGE(!seqs.empty(), "an empty page with more:true");
      from = up ? seqs.back() : seqs.front();
    }
    CHECK(all == expect);
  }
  // Before the first seq after the hole: everything before the cut.
  int64_t after_hole = *std::upper_bound(expect.begin(), expect.end(), 5);
  CHECK_FALSE(page("before=" + std::to_string(after_hole) + "&limit=100", &seqs));
  CHECK(seqs == std::vector<int64_t>(expect.begin(), std::find(expect.begin(), expect.end(), after_hole)));
  // After a seq below the hole: the page steps over it.
  CHECK(page("after=4&limit=1", &seqs) == (expect.back() > after_hole));
  CHECK(seqs == std::vector<int64_t>{after_hole});
  // sync says 10, sends go on at 11.
  ImClient b;
  REQUIRE(b.Login(srv.port(), "bob"));
  Json sync = MustRequest(b, R"({"t":"sync","id":1})", 1);
  bool found = false;
  for (const Json& e : sync["convs"].items()) {
    if (e.Str("conv") != "d:alice:bob") continue;
    found = true;
    CHECK(e.Int("last") == 10);
  }
  CHECK(found);
  ImClient a;
  REQUIRE(a.Login(srv.port(), "alice"));
  Json ack = MustRequest(a, SendFrame("u:bob", "c11", body(11), 11), 11);
  CHECK(ack.Int("seq") == 11);
  expect.push_back(11);
  CHECK_FALSE(page("after=0&limit=100", &seqs));
  CHECK(seqs == expect);
}

TEST_CASE("durability: --storage memory writes nothing and creates no --data-dir") {
  Secrets s;
  DataDir d;
  {
    Server srv(MsgArgs(s, {"--storage", "memory", "--data-dir", d.path()}));
    REQUIRE_MESSAGE(srv.Start(), srv.error());
    ImClient a;
    REQUIRE(a.Login(srv.port(), "alice"));
    Json ack = MustRequest(a, SendFrame("u:bob", "m1", "{}", 1), 1);
    CHECK(ack.Str("t") == "ack");
    {
      ImClient b;
      REQUIRE(b.Login(srv.port(), "bob"));
      b.Close();
    }
    CHECK(WaitLastSeen(srv.port(), "bob") > 0);  // an offline seen, and not written
  }
  CHECK_FALSE(fs::exists(d.path()));
  // A restart of the memory engine has seen nobody.
  Server srv(MsgArgs(s, {"--storage", "memory", "--data-dir", d.path()}));
  REQUIRE_MESSAGE(srv.Start(), srv.error());
  ImClient x;
  REQUIRE(x.Login(srv.port(), "xavier"));
  Json p = PresenceBoth(srv.port(), x, {"bob", "alice"});
  CHECK(p["bob"].raw() == R"({"online":false})");
  CHECK(p["alice"].raw() == R"({"online":false})");
  CHECK_FALSE(fs::exists(d.path()));
}

TEST_CASE("durability: an unusable data directory exits non-zero with one line") {
  DataDir d;
  fs::create_directories(d.path());
  {
    FILE* f = std::fopen((d.path() + "/LONGLINK").c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("not a longlink log\n", f);
    std::fclose(f);
  }
  RunResult r = RunBinary({"--auth", "none", "--listen", "127.0.0.1:0", "--data-dir", d.path()});
  CHECK(r.exited());
  CHECK(r.exit_code() != 0);
  CHECK(CountLines(r.err) == 1);
  CHECK(r.err.find("data-dir") != std::string::npos);
}

// PROTOCOL.md 6: "Messages dropped by retention are gone: the page then says
// first (only when something below it was dropped)".
TEST_CASE("durability: after retention drops messages every page of the conversation says first") {
  Secrets s;
  Server srv(MsgArgs(s, {"--storage", "disk", "--retention", "2s", "--segment-size", "4096",
                         "--partitions", "1", "--threads", "1"}));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  const std::string body = "\"" + std::string(600, 'x') + "\"";
  for (int i = 1; i <= 20; i++) REQUIRE(MustSend(a, "u:bob", "old" + std::to_string(i), body) == i);
  REQUIRE(MustSend(a, "u:carol", "other", "1") == 1);  // a conversation that keeps all
  auto pull = [&](const std::string& members) {
    int64_t id = a.NextId();
    Json p = MustRequest(a, R"({"t":"pull","id":)" + std::to_string(id) + "," + members + "}", id);
    REQUIRE(p.Str("t") == "page");
    return p;
  };
  // The old segments expire; a message now keeps the conversation going.
  std::this_thread::sleep_for(2500ms);
  REQUIRE(MustSend(a, "u:bob", "new", "21") == 21);
  Json p0;
  for (int tries = 0; tries < 100; tries++) {
    p0 = pull(R"("conv":"d:alice:bob","after":0)");
    if (p0.Has("first")) break;
    std::this_thread::sleep_for(100ms);
  }
  INFO("after 0: " << p0);
  REQUIRE(p0.Has("first"));
  const int64_t first = p0.Int("first");
  CHECK(first > 1);
  CHECK(first <= 21);
  REQUIRE(!p0["msgs"].items().empty());
  CHECK(p0["msgs"].items().front().Int("seq") == first);
  for (const std::string& m : {std::string(R"("after":20)"), std::string(R"("after":21)"),
                               std::string(R"("before":22,"limit":1)"),
                               std::string(R"("before":22)")}) {
    Json p = pull(R"("conv":"d:alice:bob",)" + m);
    INFO(m << " -> " << p);
    CHECK(p.Int("first") == first);
  }
  ApiReply h = Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&after=20");
  INFO(h);
  CHECK(h.json.Int("first") == first);
  CHECK(!pull(R"("conv":"d:alice:carol")").Has("first"));
}

TEST_CASE("durability: a data directory another server uses is refused with one line") {
  DataDir d;
  Secrets s;
  Server first(MsgArgs(s, {"--storage", "disk", "--data-dir", d.path()}));
  LL_START(first);
  RunResult r = RunBinary({"--auth", "none", "--listen", "127.0.0.1:0", "--data-dir", d.path()});
  INFO("stderr: " << r.err);
  CHECK(r.exited());
  CHECK(r.exit_code() != 0);
  CHECK(CountLines(r.err) == 1);
  CHECK(r.err.find("another process") != std::string::npos);
  // The first one still works, and once it is gone the directory is free.
  ImClient a;
  LL_LOGIN(a, first.port(), "alice", "phone");
  CHECK(MustSend(a, "u:bob", "c1", "1") == 1);
  a.Close();
  REQUIRE(first.Signal(SIGTERM));
  REQUIRE(first.Wait(10s).has_value());
  Server second(MsgArgs(s, {"--storage", "disk", "--data-dir", d.path()}));
  LL_START(second);
}

// PROTOCOL.md 7: last_seen survives restarts of the disk engine.
TEST_CASE("durability: last_seen survives a clean stop and restarts with other --threads") {
  Secrets s;
  DataDir d;
  int64_t bob_seen = 0, alice_login = 0, stopped = 0;
  {
    Server srv(Args(s, d, 3));
    REQUIRE_MESSAGE(srv.Start(), srv.error());
    LL_SERVER_INFO(srv);
    bob_seen = SeenOnce(srv.port(), "bob", "phone");
    REQUIRE(bob_seen > 0);
    alice_login = UnixMillis();
    ImClient a;
    LL_LOGIN(a, srv.port(), "alice", "phone");
    Json p = PresenceBoth(srv.port(), a, {"bob", "alice"});
    CHECK(p["bob"].Int("last_seen") == bob_seen);
    CHECK(p["alice"]["online"].raw() == "true");
    // alice is still online when the server stops: last seen at the stop.
    REQUIRE(srv.Signal(SIGTERM));
    auto st = srv.Wait(10s);
    REQUIRE(st.has_value());
    CHECK((WIFEXITED(*st) && WEXITSTATUS(*st) == 0));
    stopped = UnixMillis();
  }
  for (int threads : {1, 4}) {
    INFO("--threads " << threads);
    Json p = PresenceAfterRestart(Args(s, d, threads), {"bob", "carol", "alice"});
    INFO(p);
    CHECK(p["bob"].raw() == OfflineSince(bob_seen));
    CHECK(p["carol"].raw() == R"({"online":false})");  // never seen
    CHECK(p["alice"]["online"].raw() == "false");
    CHECK(p["alice"].Int("last_seen") >= alice_login);
    CHECK(p["alice"].Int("last_seen") <= stopped);
  }
}

TEST_CASE("durability: kill -9 keeps the logged last_seen, one online then keeps the older one") {
  Secrets s;
  DataDir d;
  int64_t bob_seen = 0, carol_seen = 0;
  {
    Server srv(Args(s, d, 2));
    REQUIRE_MESSAGE(srv.Start(), srv.error());
    LL_SERVER_INFO(srv);
    bob_seen = SeenOnce(srv.port(), "bob", "phone");
    REQUIRE(bob_seen > 0);
    REQUIRE(WaitWritten(d.path(), LastSeenPayload("bob", bob_seen)));
    carol_seen = SeenOnce(srv.port(), "carol", "laptop");
    REQUIRE(carol_seen > 0);
    REQUIRE(WaitWritten(d.path(), LastSeenPayload("carol", carol_seen)));
    // bob comes back and is online at the kill: nothing records that.
    ImClient b;
    LL_LOGIN(b, srv.port(), "bob", "laptop");
    Json p = PresenceBoth(srv.port(), b, {"bob"});
    CHECK(p["bob"]["online"].raw() == "true");
    REQUIRE(srv.Signal(SIGKILL));
    REQUIRE(srv.Wait(10s).has_value());
  }
  for (int threads : {1, 3}) {
    INFO("--threads " << threads);
    Json p = PresenceAfterRestart(Args(s, d, threads), {"bob", "carol", "nobody"});
    INFO(p);
    CHECK(p["bob"].raw() == OfflineSince(bob_seen));
    CHECK(p["carol"].raw() == OfflineSince(carol_seen));
    CHECK(p["nobody"].raw() == R"({"online":false})");
  }
}

TEST_CASE("durability: retention keeps a last_seen whose only record was in a dropped segment") {
  Secrets s;
  DataDir d;
  const auto args = MsgArgs(s, {"--storage", "disk", "--data-dir", d.path(), "--retention", "2s",
                                "--segment-size", "4096", "--partitions", "1", "--threads", "1"});
  int64_t bob_seen = 0;
  {
    Server srv(args);
    LL_START(srv);
    bob_seen = SeenOnce(srv.port(), "bob", "phone");
    REQUIRE(bob_seen > 0);
    const std::string rec = LastSeenPayload("bob", bob_seen);
    REQUIRE(WaitWritten(d.path(), rec));
    const std::string first_seg = d.path() + "/p000/00000000000000000000.log";
    REQUIRE(FilesWith(d.path(), rec) == std::vector<std::string>{first_seg});
    // Enough to seal a few segments after it.
    ImClient a;
    LL_LOGIN(a, srv.port(), "alice", "phone");
    const std::string body = "\"" + std::string(600, 'x') + "\"";
    for (int i = 1; i <= 20; i++) {
      REQUIRE(MustSend(a, "u:carol", "m" + std::to_string(i), body) == i);
    }
    std::this_thread::sleep_for(2500ms);
    REQUIRE(MustSend(a, "u:carol", "m21", body) == 21);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
      gone = !fs::exists(first_seg);
      if (!gone)
        std::this_thread::sleep_for(100ms);
    }
    REQUIRE_MESSAGE(gone, "retention did not drop " << first_seg);
    // Appended again (and synced) before the deletion, in a later segment.
    auto now_in = FilesWith(d.path(), rec);
    REQUIRE(now_in.size() == 1);
    CHECK(now_in[0] != first_seg);
    REQUIRE(srv.Signal(SIGKILL));
    REQUIRE(srv.Wait(10s).has_value());
  }
  Json p = PresenceAfterRestart(args, {"bob"});
  CHECK(p["bob"].raw() == OfflineSince(bob_seen));
}

}  // namespace longlink::test
