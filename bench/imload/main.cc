// imload: the messaging load generator of bench/ (see bench/IM_RESULTS.md and
// the scripts chat.sh, group.sh, sessions_rss.sh). Single-threaded on libuv;
// pin it to its own core (taskset). Modes:
//   imload chat     --port P [--pairs 100 --depth 1 --duration 10 --warmup 2 --size 32]
//   imload group    --port P --api-key K [--members 1000 --rate 1000 --duration 10 ...]
//   imload group    --port P --reference [--members 1000 --rate 100 ...]
//   imload sessions --port P [--conns 10000 --hold 10 --batch 500]
// chat and group print one human line and one "RESULT mode=... key=value ..."
// line on stdout and exit 1 when anything was lost or failed.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "common/process.h"
#include "imload/runtime.h"

namespace {

using longlink::imload::Options;

void AddCommon(CLI::App* app, Options* o) {
  app->add_option("--host", o->host, "Server address (IPv4 literal)")->capture_default_str();
  app->add_option("--port", o->port, "Server port")->required()->check(CLI::Range(1, 65535));
  app->add_option("--path", o->path, "Request path of the upgrade")->capture_default_str();
  app->add_option("--batch", o->batch, "Connections opening at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app->add_option("--open-timeout", o->open_timeout, "Seconds for every session to open")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--server-pid", o->server_pid,
                  "Also report this process's CPU use over the measured window");
}

void AddTimed(CLI::App* app, Options* o) {
  app->add_flag("--progress", o->progress, "Print counts every second to stderr");
  app->add_option("--duration", o->duration, "Measured seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--warmup", o->warmup, "Seconds of traffic before measuring")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app->add_option("--drain", o->drain, "Seconds to wait for late acks and pushes at the end")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app->add_option("--size", o->size, "Bytes of each message body (JSON text)")
      ->capture_default_str()
      ->check(CLI::Range(16, 60000));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"imload: messaging load generator for longlink"};
  app.require_subcommand(1);

  Options chat;
  CLI::App* chat_cmd = app.add_subcommand("chat", "Pairs of users sending one-to-one");
  AddCommon(chat_cmd, &chat);
  AddTimed(chat_cmd, &chat);
  chat_cmd->add_option("--pairs", chat.pairs, "Sender/receiver pairs")
      ->capture_default_str()
      ->check(CLI::Range(1, 9000));
  chat_cmd->add_option("--depth", chat.depth, "Sends in flight per sender (with --rate: the most)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  chat.rate = 0;
  chat_cmd
      ->add_option("--rate", chat.rate,
                   "Sends per second in all, spread over the pairs (open loop; 0: each sender "
                   "keeps --depth in flight)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  Options group;
  CLI::App* group_cmd = app.add_subcommand("group", "One publisher, many group members");
  AddCommon(group_cmd, &group);
  AddTimed(group_cmd, &group);
  group_cmd->add_option("--api-key", group.api_key, "HTTP API key (to create the group)");
  group_cmd->add_option("--members", group.members, "Member sessions")
      ->capture_default_str()
      ->check(CLI::Range(1, 19000));
  group_cmd->add_option("--rate", group.rate, "Messages per second from the publisher")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  group_cmd->add_flag("--reference", group.reference,
                      "Target is echo_reference --broadcast: no API, hello or acks");
  group_cmd->add_flag("--no-recv", group.no_recv, "Members do not acknowledge pushes");

  Options sessions;
  CLI::App* sessions_cmd = app.add_subcommand("sessions", "Open and hold idle sessions");
  AddCommon(sessions_cmd, &sessions);
  sessions_cmd->add_option("--conns", sessions.conns, "Sessions (distinct users)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  sessions_cmd->add_option("--hold", sessions.hold, "Seconds to hold them")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  CLI11_PARSE(app, argc, argv);
  longlink::bench::RaiseFileLimit("imload");
  if (*chat_cmd)
    return longlink::imload::RunChat(chat);
  if (*group_cmd) {
    if (!group.reference && group.api_key.empty()) {
      std::fprintf(stderr, "imload group: --api-key is required (or --reference)\n");
      return 2;
    }
    return longlink::imload::RunGroup(group);
  }
  return longlink::imload::RunSessions(sessions);
}
