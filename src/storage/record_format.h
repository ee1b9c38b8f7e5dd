// The on-disk format of the embedded log (DESIGN.md "Storage"), in the
// manner of LevelDB's log_format.h. Everything a reader needs is here.
//
// Data directory (--data-dir):
//
//   LONGLINK            "longlink-log <V>\npartitions <P>\n": written once, when
//                       the directory is created (tmp file, fsync, rename,
//                       fsync of the directory). P never changes afterwards.
//   LOCK                empty; the running server holds an exclusive flock on
//                       it, so a second process refuses the directory.
//   p000/ .. p<P-1>/    one directory per partition.
//   pNNN/<20 digits>.log  a segment: the partition's records starting at that
//                       position. A partition is one sequence of positions
//                       (bytes) split over segments of about --segment-size;
//                       a segment's file name is the position of its first
//                       byte, so position = base + offset in the file. A
//                       record never spans two segments.
//
// A conversation lives in partition PartitionOf(conv, P, version), and a
// partition is written by shard (partition mod --threads), so any --threads
// finds its data. The function is part of the format, named by the version
// in LONGLINK:
//   1  FNV-1a 64 of the id, mod P (directories of the first builds; its low
//      bits follow the low bits of the bytes, so 100 chats "d:a<i>:b<i>"
//      used 3 of 8 partitions, all owned by shard 0 of 2);
//   2  the same through MurmurHash3's fmix64 finalizer, mod P (new
//      directories).
//
// Record:
//
//   +---------+---------+------+-------------------+
//   | crc: 4  | len: 4  | type | payload: len bytes |
//   +---------+---------+------+-------------------+
//
//   crc   masked CRC32C (Castagnoli) of type and payload, little endian;
//         masked as LevelDB does (rotate right 15, add 0xa282ead8) so that a
//         CRC of data containing CRCs stays well distributed;
//   len   payload length, little endian, at most kMaxPayload;
//   type  one of RecordType below; 0 is never written, so a zero-filled
//         tail is a corrupt record.
//
// The active segment may end in zeros: its space is written with zeros a
// MiB ahead of the last record (Partition, File::Reserve) so that appends
// overwrite existing blocks. Sealing a segment and closing the log trim the
// zeros; after a crash they are a zero-filled tail like any other.
//
// Recovery reads every segment in order and stops at the first record that
// is short (file ends inside it), too long, of an unknown type or whose CRC
// does not match; it cuts the file there (ftruncate + fsync) and goes on
// with the next segment. A record after a cut is never served.
//
// Payloads are built from varints (LEB128, at most 10 bytes) and strings
// (varint length, then the bytes):
//
//   kMsg       varint seq, varint ts (ms since the epoch), varint prev
//              (position+1 of the previous kMsg of the same conversation,
//              0 for none: a backward chain that pulls walk), string conv,
//              string from, string device, string cmid, string body (the raw
//              JSON text of the message, never re-serialized).
//   kCursor    string conv, string device key ("user/device"), varint recv,
//              varint read: the cursors after a move (they only grow).
//   kGroup     string conv, byte flags (1: exists, 2: open), varint n, n x
//              string member: a group's whole state (create, delete).
//   kMembers   string conv, varint n, n x string added, varint m, m x string
//              removed (join, leave, POST /api/groups/<g>/members).
//   kConvMeta  string conv, varint last_seq, varint first_seq: snapshot of
//              what outlives dropped segments (written before retention
//              deletes any).
//   kDedup     string from, string cmid, string conv, varint seq, varint ts:
//              snapshot of a cmid still in the 24 h window whose kMsg is in a
//              segment about to be deleted.
//   kLastSeen  string user, varint last_seen_ms: the user's last device went
//              away then (presence's last_seen). Written to the user's
//              partition, PartitionOf(user) (the placement of a conversation
//              id), by the shard that owns it; the newest (highest) per user
//              wins. Re-appended before retention deletes the segment that
//              holds a user's newest one.
//
// Snapshot records are ordinary records appended to the active segment, so
// replaying every record in order always yields the latest state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/hash.h"

namespace longlink::storage {

enum RecordType : uint8_t {
  kZeroType = 0,  // never written
  kMsg = 1,
  kCursor = 2,
  kGroup = 3,
  kMembers = 4,
  kConvMeta = 5,
  kDedup = 6,
  kLastSeen = 7,
};
constexpr uint8_t kMaxRecordType = kLastSeen;

constexpr size_t kHeaderSize = 4 + 4 + 1;
constexpr uint32_t kMaxPayload = 64u << 20;  // 64 MiB: far above any --max-message body

constexpr const char* kMetaFile = "LONGLINK";
constexpr const char* kLockFile = "LOCK";  // flock'ed by the process using the directory
constexpr const char* kMetaMagic = "longlink-log ";  // then the version
constexpr uint32_t kLogVersion = 2;                  // of new directories

inline uint32_t PartitionOf(std::string_view id, uint32_t partitions, uint32_t version) {
  uint64_t h = Fnv1a64(id);
  if (version >= 2) h = Mix64(h);
  return uint32_t(h % partitions);
}

}  // namespace longlink::storage
