// Command-line parsing (CLI11) into server::Config, with the value syntax of
// PROTOCOL.md section 10. Start-up code: exceptions are allowed here and are
// caught before they leave ParseFlags.
#pragma once

#include <string>

#include "server/config.h"

namespace longlink::cli {

struct ParseOutcome {
  bool exit_now = false;  // --help, --version or an error: exit with `code`
  int code = 0;
};

// Parses argv into *cfg. On --help/--version prints to stdout; on a bad flag,
// value or file prints exactly one line to stderr and asks for exit code 2.
ParseOutcome ParseFlags(int argc, char** argv, server::Config* cfg);

extern const char* const kVersion;

// `longlink token --user U [--ttl 1h] [--jwt-secret-file F]`: prints a JWT
// signed with the configured secret and a newline; returns the exit code.
int RunTokenCommand(int argc, char** argv);

}  // namespace longlink::cli
