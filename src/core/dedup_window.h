// One user's cmid dedup window (PROTOCOL.md section 4: a cmid sent again
// within 24 hours answers the first ack with dup:true).
//
// Every stored send adds an entry and the window holds a day of them, so it
// is the biggest per-message structure in memory. It is laid out to cost
// about 70 bytes per entry and no allocation per entry (a node-based
// unordered_map of strings plus an expiry deque cost ~250 bytes and three
// allocations, and made durable chat 1.5x slower, bench/README.md):
//
//   ring_   the entries in insertion (= expiry) order, a power-of-two
//           circular array addressed by an entry's absolute number;
//   bytes_  the entries' cmid and conv bytes, in chunks that grow with the
//           window (256 B .. 64 KiB) and are freed whole once every entry
//           in them has expired;
//   slots_  an open-addressing index (linear probing, load <= 3/4) of
//           {32 hash bits, entry number}: a lookup of a new cmid, the common
//           case, touches one slot and no entry.
//
// A 64-bit hash picks the slot; a hit is confirmed by comparing the stored
// cmid bytes, so a hash collision never turns a new message into a "dup".
// Single-threaded (a hub owns it).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace longlink::core {

// How long a cmid is remembered (PROTOCOL.md 4: at least 24 hours): the
// window in memory, and what recovery and retention keep from the log.
inline constexpr int64_t kDedupWindowMs = 24 * 3600 * 1000;

class DedupWindow {
 public:
  struct Entry {
    std::string_view conv;
    uint64_t seq;
    int64_t ts;
  };

  // The entry of `cmid`, if it is in the window. The views live until the
  // next Add or Expire.
  bool Find(std::string_view cmid, Entry* out) const;

  // Adds cmid -> (conv, seq, ts). The caller checks Find first: a cmid is in
  // the window at most once. ts should not go backwards much: expiry walks
  // from the oldest insertion.
  void Add(std::string_view cmid, std::string_view conv, uint64_t seq, int64_t ts);

  // Makes room for n entries in all (a recovery knows how many it adds).
  void Reserve(size_t n);

  // Drops the entries with ts < cutoff_ms, oldest insertion first (stops at
  // the first one still inside).
  void Expire(int64_t cutoff_ms);

  size_t size() const { return size_t(next_ - first_); }
  bool empty() const { return next_ == first_; }
  // Bytes held (ring, index and chunks), for tests and metrics.
  size_t MemoryBytes() const;

 private:
  struct Rec {
    uint64_t hash;
    int64_t ts;
    uint64_t seq;
    uint32_t chunk;  // absolute chunk number (mod 2^32); the bytes start at `off`
    uint16_t off;
    uint8_t cmid_len;
    uint8_t conv_len;
  };
  struct Slot {
    uint32_t tag;  // 0: empty; else the hash's high 32 bits with bit 0 set
    uint32_t num;  // the entry's absolute number (mod 2^32)
  };
  struct Chunk {
    std::unique_ptr<char[]> data;
    uint32_t cap = 0;
    uint32_t used = 0;
  };

  static uint64_t Hash(std::string_view cmid);
  // The slot index is the tag's top bits, so that re-indexing and deletion
  // never read an entry.
  static uint32_t Tag(uint64_t h) { return uint32_t(h >> 32) | 1u; }
  size_t Bucket(uint32_t tag) const { return size_t(tag >> shift_); }
  const Rec& RecAt(uint64_t num) const { return ring_[num & (ring_cap_ - 1)]; }
  const char* BytesOf(const Rec& r) const {
    return bytes_[size_t(uint32_t(r.chunk - first_chunk_))].data.get() + r.off;
  }
  void Rebuild(size_t slots);  // re-index every live entry into `slots` slots
  void InsertSlot(uint64_t h, uint64_t num);
  void EraseSlot(uint64_t h, uint64_t num);
  void ResizeRing(size_t cap);

  std::unique_ptr<Rec[]> ring_;  // ring_cap_ entries, a power of two (or none)
  size_t ring_cap_ = 0;
  uint64_t first_ = 0;       // absolute number of the oldest entry
  uint64_t next_ = 0;        // absolute number of the next entry
  std::vector<Slot> slots_;  // a power of two (or empty)
  int shift_ = 32;           // 32 - log2(slots_.size())
  std::vector<Chunk> bytes_;  // few: the oldest first
  uint32_t first_chunk_ = 0;  // absolute number of bytes_.front() (mod 2^32)
};

}  // namespace longlink::core
