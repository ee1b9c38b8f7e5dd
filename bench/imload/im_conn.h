// ImConn: one messaging session (a WsClient that says hello and waits for
// welcome), and Fleet: the connections of one run with the phases every mode
// shares: open them in batches (at most --batch handshakes at once, within
// --open-timeout), then, when the mode is done, close them all with a close
// handshake (5 s, then abortively). A mode derives from Fleet and handles its
// frames in OnFrame/OnReadEnd.
//
// Ownership: the Fleet owns its Loop and every ImConn; connections report to
// the Fleet through the Events interface. Single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "imload/runtime.h"
#include "common/histogram.h"
#include "common/ws_client.h"

namespace longlink::imload {

class ImConn;

// What a connection reports to its owner.
class ConnEvents {
 public:
  virtual ~ConnEvents() = default;
  // Welcome received (or, without a hello, the upgrade completed).
  virtual void OnReady(ImConn* c) = 0;
  // A text frame after the welcome. `data` may be modified, and is valid
  // only during the call.
  virtual void OnFrame(ImConn* c, uint8_t* data, size_t len) = 0;
  // Every frame of one read has been handled.
  virtual void OnReadEnd(ImConn* c) = 0;
  // A connection error, refused hello, or a close the run did not ask for.
  virtual void OnFailed(ImConn* c, const char* what, long err) = 0;
  virtual void OnClosed(ImConn* c) = 0;
};

class ImConn final : public WsClient {
 public:
  // `user` empty: no hello (a plain WebSocket peer, ready once upgraded).
  ImConn(Loop* loop, ConnEvents* events, uint32_t index, std::string user, std::string device);

  uint32_t index() const { return index_; }
  bool ready() const { return ready_; }
  const std::string& user() const { return user_; }

  void SendText(const uint8_t* data, size_t len) { SendFrame(ws::kText, data, len); }
  // The run is ending: a server close or EOF from now on is not a failure.
  void ExpectClose() { expect_close_ = true; }

 protected:
  void OnOpen() override;
  void OnMessage(uint8_t opcode, uint8_t* data, size_t len) override;
  void OnReadEnd() override;
  void OnServerClose(uint16_t code) override;
  void OnError(const char* what, int err) override;
  void OnClosed() override;

 private:
  ConnEvents* events_;
  std::string user_;
  std::string device_;
  uint32_t index_;
  bool ready_ = false;
  bool expect_close_ = false;
};

class Fleet : public ConnEvents {
 public:
  explicit Fleet(const Options& opts);
  ~Fleet() override;

 protected:
  // Starts every connection of conns_, --batch at a time; calls OnAllOpen
  // once each has reached ready or failed (or at --open-timeout).
  void OpenAll();
  virtual void OnAllOpen() = 0;
  // Closes every connection (close frame, then abortive after 5 s); the loop
  // ends once all are closed.
  void CloseAll();

  // ConnEvents; a mode overriding these calls the Fleet's version too.
  void OnReady(ImConn* c) override;
  void OnFailed(ImConn* c, const char* what, long err) override;
  void OnClosed(ImConn* c) override;

  bool opening() const { return opening_phase_; }
  size_t opened() const { return opened_; }

  Options opts_;
  Loop loop_;
  std::vector<std::unique_ptr<ImConn>> conns_;
  uint64_t open_ns_ = 0;      // how long the opening took
  uint64_t open_failed_ = 0;  // connections that never reached ready
  uint64_t dropped_ = 0;      // connections lost after ready, before CloseAll
  uint64_t close_timeouts_ = 0;

 private:
  void LaunchMore();
  void OpeningDone();

  size_t launched_ = 0;
  size_t in_progress_ = 0;
  size_t opened_ = 0;
  size_t closed_ = 0;
  uint64_t open_start_ns_ = 0;
  bool opening_phase_ = false;
  bool closing_phase_ = false;
};

}  // namespace longlink::imload
