// Process-wide helpers of a load generator: the descriptor limit, and error
// reporting that does not flood stderr. `tool` ("loadgen", "imload") prefixes
// every message. Single-threaded.
#pragma once

namespace longlink::bench {

// Raises the soft RLIMIT_NOFILE to the hard limit (sockets are files).
void RaiseFileLimit(const char* tool);

// Prints "<tool>: error: <what> <err> <libuv's text for a negative err>" to
// stderr for the first ten errors of the process; later ones are not printed
// (the caller counts them).
void ReportError(const char* tool, const char* what, long err);

}  // namespace longlink::bench
