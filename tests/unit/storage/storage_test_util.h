// Helpers for the storage tests: a temporary directory and a partition
// filled with numbered records.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "storage/partition.h"

namespace longlink::storage::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ll-storage-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Rec {
  uint64_t pos;
  uint8_t type;
  std::string payload;
};

inline std::vector<Rec> RecoverAll(Partition* p, RecoveryStats* st = nullptr) {
  std::vector<Rec> out;
  RecoveryStats local;
  Status s = p->Recover(
      [&](uint64_t pos, uint8_t type, std::string_view payload) {
        out.push_back(Rec{pos, type, std::string(payload)});
      },
      st != nullptr ? st : &local);
  if (!s.ok()) out.clear();
  return out;
}

inline std::string Payload(int i) {
  return "record-" + std::to_string(i) + std::string(size_t(i % 37), 'x');
}

}  // namespace longlink::storage::testing
