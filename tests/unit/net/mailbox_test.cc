// Tests for net/mailbox.h: FIFO per producer, exactly-once delivery from many
// threads into a loop running on another thread, coalesced wake-ups, Close
// delivering what is left, and Outbox batching. Each case owns its loop and
// closes every handle (uv_loop_close returns 0) before it ends. Run these
// under TSan too (-DLL_SANITIZE=thread): the stress cases are its food.
#include "net/mailbox.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <uv.h>

namespace longlink::net {
namespace {

struct Item {
  Item* mailbox_next = nullptr;
  uint32_t producer = 0;
  uint32_t seq = 0;
  bool stop = false;  // asks the loop thread to stop (posted last)
};

// What the consumer saw. The plain fields are written on the loop thread only
// and read by the test after it has joined that thread (or, single-threaded,
// after uv_run). seen_* are published at the end of every callback for tests
// that wait while the loop still runs.
struct Sink {
  explicit Sink(size_t producers) : next_seq(producers, 0) {}

  uv_loop_t* loop = nullptr;
  std::vector<uint32_t> next_seq;  // per producer: the seq expected next
  uint64_t items = 0;
  uint64_t batches = 0;       // callbacks, i.e. non-empty drains
  uint64_t out_of_order = 0;  // items whose seq was not the one expected
  bool bad_tail = false;      // an item after the stop item
  std::atomic<uint64_t> seen_items{0};
  std::atomic<uint64_t> seen_batches{0};
};

void OnItems(Item* items, void* arg) {
  auto* sink = static_cast<Sink*>(arg);
  ++sink->batches;
  bool stopped = false;
  for (Item* item = items; item != nullptr; item = item->mailbox_next) {
    if (stopped)
      sink->bad_tail = true;
    if (item->stop) {
      stopped = true;
      uv_stop(sink->loop);
      continue;
    }
    if (item->seq != sink->next_seq[item->producer])
      ++sink->out_of_order;
    sink->next_seq[item->producer] = item->seq + 1;
    ++sink->items;
  }
  // Release: a waiting test that reads these also sees the fields above.
  sink->seen_items.store(sink->items, std::memory_order_release);
  sink->seen_batches.store(sink->batches, std::memory_order_release);
}

// Polls `done` for up to 30 s; returns whether it became true.
template <typename Pred>
bool WaitFor(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Closes the mailbox, runs the loop until the close has finished and closes
// the loop. Single-threaded cases only.
void CloseAll(uv_loop_t* loop, Mailbox<Item>* mailbox) {
  mailbox->Close();
  CHECK(uv_run(loop, UV_RUN_DEFAULT) == 0);
  CHECK(uv_loop_close(loop) == 0);
}

// A mailbox whose loop runs on its own thread until a stop item arrives; then
// that thread closes the mailbox and runs the loop until the handle is closed.
class LoopThread {
 public:
  explicit LoopThread(size_t producers) : sink(producers) {
    REQUIRE(uv_loop_init(&loop) == 0);
    sink.loop = &loop;
    // Init runs here, before the loop thread exists: std::thread's start
    // orders it before everything that thread does.
    REQUIRE(mailbox.Init(&loop, &OnItems, &sink) == 0);
    thread_ = std::thread([this] {
      uv_run(&loop, UV_RUN_DEFAULT);  // returns at uv_stop: the handle is open
      mailbox.Close();
      final_run_rc_ = uv_run(&loop, UV_RUN_DEFAULT);
    });
  }

  // A case that failed a REQUIRE midway still stops the loop thread.
  ~LoopThread() {
    if (thread_.joinable()) {
      mailbox.Post(&stop_item_);
      thread_.join();
    }
  }

  // Posts the stop item, joins the loop thread and closes the loop. After
  // this, sink may be read.
  void Stop() {
    mailbox.Post(&stop_item_);
    thread_.join();
    CHECK(final_run_rc_ == 0);
    CHECK(uv_loop_close(&loop) == 0);
    CHECK_FALSE(sink.bad_tail);
  }

  uv_loop_t loop;
  Mailbox<Item> mailbox;
  Sink sink;

 private:
  Item stop_item_{.stop = true};
  int final_run_rc_ = -1;
  std::thread thread_;
};

// Starts one thread per entry of `chunks`, each posting `per_producer` items
// into lt->mailbox: chunk 0 posts each item, chunk k adds them to its own
// Outbox and flushes every k items. Returns once all producers have finished.
void RunProducers(LoopThread* lt, const std::vector<uint32_t>& chunks, uint32_t per_producer) {
  std::vector<std::unique_ptr<Item[]>> items;
  for (size_t p = 0; p < chunks.size(); ++p) items.emplace_back(new Item[per_producer]);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (size_t p = 0; p < chunks.size(); ++p) {
    threads.emplace_back([&, p] {
      Item* mine = items[p].get();
      uint32_t chunk = chunks[p];
      Outbox<Item> outbox({&lt->mailbox});
      // Acquire is not needed for correctness; it only lines up the start.
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (uint32_t i = 0; i < per_producer; ++i) {
        mine[i].producer = static_cast<uint32_t>(p);
        mine[i].seq = i;
        if (chunk == 0) {
          lt->mailbox.Post(&mine[i]);
          continue;
        }
        outbox.Add(0, &mine[i]);
        if (outbox.pending() == chunk)
          outbox.Flush();
      }
      outbox.Flush();
    });
  }
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  // The items must outlive their delivery: wait for the consumer before
  // `items` goes out of scope.
  uint64_t total = uint64_t{per_producer} * chunks.size();
  CHECK(WaitFor([&] { return lt->sink.seen_items.load(std::memory_order_acquire) == total; }));
}

TEST_CASE("mailbox: a single producer's items arrive in order in one batch") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Sink sink(1);
  sink.loop = &loop;
  Mailbox<Item> mailbox;
  REQUIRE(mailbox.Init(&loop, &OnItems, &sink) == 0);

  std::vector<Item> items(1000);
  for (uint32_t i = 0; i < items.size(); ++i) {
    items[i].seq = i;
    mailbox.Post(&items[i]);
  }
  CHECK(mailbox.depth() == 1000);
  CHECK(sink.items == 0);  // nothing is delivered before the loop runs

  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(sink.items == 1000);
  CHECK(sink.batches == 1);
  CHECK(sink.out_of_order == 0);
  CHECK(sink.next_seq[0] == 1000);
  CHECK(mailbox.depth() == 0);

  // A manual Drain takes the item; the wake-up that follows finds nothing
  // and makes no callback.
  Item extra{.seq = 1000};
  mailbox.Post(&extra);
  mailbox.Drain();
  CHECK(sink.items == 1001);
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK(sink.batches == 2);

  CloseAll(&loop, &mailbox);
}

TEST_CASE("mailbox: 4 producers x 200k items are each delivered once, in producer order") {
  constexpr uint32_t kPerProducer = 200'000;
  LoopThread lt(4);
  RunProducers(&lt, {0, 0, 0, 0}, kPerProducer);
  CHECK(lt.mailbox.depth() == 0);
  lt.Stop();

  CHECK(lt.sink.items == 4 * uint64_t{kPerProducer});
  CHECK(lt.sink.out_of_order == 0);
  for (uint32_t next : lt.sink.next_seq) CHECK(next == kPerProducer);
  MESSAGE("items " << lt.sink.items << ", callbacks " << lt.sink.batches);
}

TEST_CASE("mailbox: wake-ups are coalesced under load") {
  constexpr uint32_t kPerProducer = 100'000;
  LoopThread lt(4);
  RunProducers(&lt, {0, 0, 0, 0}, kPerProducer);
  lt.Stop();

  // A wake-up is sent only on empty -> non-empty, and libuv folds the sends
  // made before the loop gets round to the callback, so one callback carries
  // many items. Measured: thousands of items per callback on 2 cores.
  CHECK(lt.sink.items == 4 * uint64_t{kPerProducer});
  CHECK(lt.sink.batches >= 1);
  CHECK(lt.sink.batches * 10 < lt.sink.items);
  MESSAGE("items " << lt.sink.items << ", callbacks " << lt.sink.batches);
}

TEST_CASE("mailbox: one item posted to an idle loop wakes it and is delivered") {
  LoopThread lt(1);
  // Let the loop thread block in epoll_wait with nothing queued.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(lt.sink.seen_batches.load(std::memory_order_acquire) == 0);

  Item item{.seq = 0};
  lt.mailbox.Post(&item);
  CHECK(WaitFor([&] { return lt.sink.seen_items.load(std::memory_order_acquire) == 1; }));
  CHECK(lt.sink.seen_batches.load(std::memory_order_acquire) == 1);
  lt.Stop();
  CHECK(lt.sink.items == 1);
  CHECK(lt.sink.batches == 2);  // the item, then the stop item
}

TEST_CASE("mailbox: Close delivers the items still queued") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Sink sink(1);
  sink.loop = &loop;
  Mailbox<Item> mailbox;
  REQUIRE(mailbox.Init(&loop, &OnItems, &sink) == 0);

  // Posted from another thread, and the loop never runs before Close.
  std::vector<Item> items(1000);
  std::thread producer([&] {
    for (uint32_t i = 0; i < items.size(); ++i) {
      items[i].seq = i;
      mailbox.Post(&items[i]);
    }
  });
  producer.join();
  CHECK(mailbox.depth() == 1000);
  CHECK(sink.items == 0);

  mailbox.Close();
  CHECK(sink.items == 1000);
  CHECK(sink.batches == 1);
  CHECK(sink.out_of_order == 0);
  CHECK(mailbox.depth() == 0);
  CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);  // finishes the close; no callback
  CHECK(sink.batches == 1);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("outbox: one flush makes one post per destination, in the order of Add") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  std::vector<std::unique_ptr<Sink>> sinks;
  std::vector<std::unique_ptr<Mailbox<Item>>> mailboxes;
  std::vector<Mailbox<Item>*> dests;
  for (int i = 0; i < 3; ++i) {
    sinks.push_back(std::make_unique<Sink>(1));
    sinks.back()->loop = &loop;
    mailboxes.push_back(std::make_unique<Mailbox<Item>>());
    REQUIRE(mailboxes.back()->Init(&loop, &OnItems, sinks.back().get()) == 0);
    dests.push_back(mailboxes.back().get());
  }

  Outbox<Item> outbox(dests);
  std::vector<Item> items(10);
  for (uint32_t i = 0; i < items.size(); ++i) {
    items[i].seq = i / 2;  // 0,0,1,1,...: each destination sees 0..4
    outbox.Add(i % 2 == 0 ? 0 : 2, &items[i]);
  }
  CHECK(outbox.pending() == 10);
  for (auto& m : mailboxes) CHECK(m->depth() == 0);  // nothing posted yet

  CHECK(outbox.Flush() == 2);
  CHECK(outbox.pending() == 0);
  CHECK(mailboxes[0]->depth() == 5);
  CHECK(mailboxes[1]->depth() == 0);
  CHECK(mailboxes[2]->depth() == 5);
  CHECK(outbox.Flush() == 0);

  uv_run(&loop, UV_RUN_NOWAIT);
  for (int i : {0, 2}) {
    CHECK(sinks[i]->items == 5);
    CHECK(sinks[i]->batches == 1);
    CHECK(sinks[i]->out_of_order == 0);
  }
  CHECK(sinks[1]->batches == 0);

  for (auto& m : mailboxes) m->Close();
  CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("outbox: chains flushed from many threads are each delivered once, in order") {
  constexpr uint32_t kPerProducer = 100'000;
  LoopThread lt(4);
  // One producer posts items one by one; the others flush chains of 7, 64
  // and 1000 items, so chains and single posts interleave in the queue.
  RunProducers(&lt, {0, 7, 64, 1000}, kPerProducer);
  CHECK(lt.mailbox.depth() == 0);
  lt.Stop();

  CHECK(lt.sink.items == 4 * uint64_t{kPerProducer});
  CHECK(lt.sink.out_of_order == 0);
  for (uint32_t next : lt.sink.next_seq) CHECK(next == kPerProducer);
}

}  // namespace
}  // namespace longlink::net
