// loadgen: the WebSocket load generator of bench/ (see bench/README.md).
// Single-threaded on libuv; pin it to its own core (taskset) so that it and
// the server under test do not share one. Modes:
//   loadgen echo      --port P [--conns 100 --size 32 --depth 1 --duration 10 --warmup 2]
//   loadgen handshake --port P [--conns 50 --duration 10 --warmup 2]
//   loadgen idle      --port P [--conns 10000 --hold 10 --batch 500]
// Each prints one human line and one "RESULT key=value ..." line on stdout.
#include <CLI/CLI.hpp>

#include "common/process.h"
#include "loadgen/session.h"

namespace {

using longlink::loadgen::Options;

void AddCommon(CLI::App* app, Options* o) {
  app->add_option("--host", o->host, "Server address (IPv4 or IPv6 literal)")
      ->capture_default_str();
  app->add_option("--port", o->port, "Server port")->required()->check(CLI::Range(1, 65535));
  app->add_option("--path", o->path, "Request path of the upgrade")->capture_default_str();
  app->add_option("--batch", o->batch, "Connections opening at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app->add_option("--server-pid", o->server_pid,
                  "Also report this process's CPU use over the measured window");
}

void AddTimed(CLI::App* app, Options* o) {
  app->add_option("--duration", o->duration, "Measured seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--warmup", o->warmup, "Seconds of traffic before measuring")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loadgen: WebSocket load generator for longlink (bench/README.md)"};
  app.require_subcommand(1);

  Options echo;
  CLI::App* echo_cmd = app.add_subcommand("echo", "Round trips against an echo endpoint");
  AddCommon(echo_cmd, &echo);
  AddTimed(echo_cmd, &echo);
  echo_cmd->add_option("--conns", echo.conns, "Connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  echo_cmd->add_option("--size", echo.size, "Payload bytes (>= 8; first 8 carry the send time)")
      ->capture_default_str()
      ->check(CLI::Range(8, 16 << 20));
  echo_cmd->add_option("--depth", echo.depth, "Messages in flight per connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));

  Options hs;
  hs.conns = 50;
  CLI::App* hs_cmd = app.add_subcommand("handshake", "Connect-upgrade-close loops");
  AddCommon(hs_cmd, &hs);
  AddTimed(hs_cmd, &hs);
  hs_cmd->add_option("--conns", hs.conns, "Concurrent loops")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));

  Options idle;
  idle.conns = 10000;
  CLI::App* idle_cmd = app.add_subcommand("idle", "Open and hold idle connections");
  AddCommon(idle_cmd, &idle);
  idle_cmd->add_option("--conns", idle.conns, "Connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  idle_cmd->add_option("--hold", idle.hold, "Seconds to hold them; 0 = until SIGINT/SIGTERM")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  CLI11_PARSE(app, argc, argv);
  longlink::bench::RaiseFileLimit("loadgen");
  if (*echo_cmd)
    return longlink::loadgen::RunEcho(echo);
  if (*hs_cmd)
    return longlink::loadgen::RunHandshake(hs);
  return longlink::loadgen::RunIdle(idle);
}
