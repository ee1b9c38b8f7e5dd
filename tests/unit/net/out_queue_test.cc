#include "net/out_queue.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

using longlink::net::OutQueue;
using longlink::net::SharedBuf;

namespace {

std::string Drain(OutQueue& q, size_t step) {
  std::string got;
  while (!q.empty()) {
    iovec v[4];
    int n = q.Fill(v, 4);
    size_t take = 0;
    for (int i = 0; i < n && take < step; i++) {
      size_t t = std::min(step - take, v[i].iov_len);
      got.append(static_cast<char*>(v[i].iov_base), t);
      take += t;
    }
    q.Consume(take);
  }
  return got;
}

}  // namespace

TEST_CASE("out_queue: keeps order across appends, shared buffers and partial consumes") {
  std::string want;
  OutQueue q;
  SharedBuf* shared = SharedBuf::New(10);
  std::memcpy(shared->data, "SHAREDDATA", 10);
  shared->len = 10;
  shared->appendable = false;
  for (int i = 0; i < 300; i++) {
    std::string s = "msg" + std::to_string(i) + std::string(size_t(i * 37 % 200), 'x');
    q.Append(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    want += s;
    if (i % 50 == 0) {
      q.AppendShared(shared, 2, 6);
      want += "AREDDA";
    }
  }
  CHECK(q.bytes() == want.size());
  CHECK(Drain(q, 13) == want);
  CHECK(shared->refs.load() == 1);  // the queue dropped its references
  shared->Unref();
}

TEST_CASE("out_queue: a large append is kept whole") {
  OutQueue q;
  std::string big(100000, 'b');
  q.Append(reinterpret_cast<const uint8_t*>(big.data()), big.size());
  q.Append(reinterpret_cast<const uint8_t*>("tail"), 4);
  CHECK(Drain(q, 4096) == big + "tail");
}
