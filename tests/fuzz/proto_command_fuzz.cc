// libFuzzer target for proto::CommandParser. The input is one client frame.
// It is parsed twice, in place (followed by SIMDJSON_PADDING bytes of junk)
// and through the copy path (an exact-size heap buffer, so ASan sees any
// over-read); both must give the same status and the same Command. A
// successful parse must honour the contract in command.h (ids in grammar,
// body trimmed and inside the input, limits in range, ...). And the parser's
// idea of "valid JSON" is checked against simdjson's fully validating DOM
// parser: a frame DOM rejects must be rejected as bad JSON, a JSON object DOM
// accepts must not be, and a body we accept must parse on its own. (DOM's
// NUMBER_ERROR is excluded from the first check: RFC 8259 allows numbers
// such as 1e400 that simdjson refuses to convert, and we only check grammar.)
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "proto/command.h"
#include "proto/ids.h"

namespace {

using namespace longlink::proto;

void Check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

bool IsJsonWs(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool IsJsonLevelError(const ParseStatus& st) {
  const std::string_view m = st.msg;
  return m == "invalid JSON" || m == "frame is not a JSON object" || m == "JSON nested too deep";
}

// Everything a Command says, flattened, to compare two parses.
std::string Describe(const ParseStatus& st, const Command& c) {
  std::string s = std::to_string(int(st.code)) + "|" + st.msg + "|" + std::to_string(c.has_id) +
                  std::to_string(c.id);
  if (!st.ok()) {
    return s;
  }
  s += "|" + std::to_string(int(c.type));
  const HelloArgs& h = c.hello;
  s += "|" + std::to_string(int(h.v)) + std::to_string(int(h.token)) + std::string(h.token_value);
  s += "|" + std::to_string(int(h.user)) + std::string(h.user_value);
  s += "|" + std::to_string(int(h.device)) + std::string(h.device_value);
  s += "|" + std::to_string(int(c.to.kind)) + std::string(c.to.name) + "|" + std::string(c.cmid);
  s += "|" + std::string(c.body) + "|" + std::to_string(c.ephemeral);
  s += "|" + std::string(c.conv) + "|" + std::to_string(c.seq);
  s += "|" + std::to_string(c.has_after) + std::to_string(c.after);
  s += "|" + std::to_string(c.has_before) + std::to_string(c.before);
  s += "|" + std::to_string(c.limit) + "|" + std::to_string(c.all);
  for (std::string_view u : c.users) {
    s += "|";
    s += u;
  }
  return s;
}

void CheckContract(const Command& c, const char* input, size_t len) {
  Check(!c.has_id || c.id <= kMaxFrameId);
  const HelloArgs& h = c.hello;
  switch (c.type) {
    case CommandType::kHello:
      Check(h.user != MemberState::kValid || IsValidId(h.user_value));
      Check(h.device == MemberState::kInvalid || IsValidId(h.device_value));
      break;
    case CommandType::kSend: {
      Check(IsValidId(c.to.name) && IsValidId(c.cmid));
      Check(!c.body.empty() && !IsJsonWs(c.body.front()) && !IsJsonWs(c.body.back()));
      Check(c.body.data() >= input && c.body.data() + c.body.size() <= input + len);
      simdjson::dom::parser dom;
      simdjson::dom::element e;
      const auto err = dom.parse(c.body.data(), c.body.size()).get(e);
      Check(err == simdjson::SUCCESS || err == simdjson::NUMBER_ERROR);
      break;
    }
    case CommandType::kRecv:
    case CommandType::kRead:
    case CommandType::kPull: {
      ConvId id;
      Check(ParseConv(c.conv, &id));
      Check(!(c.has_after && c.has_before));
      Check(c.limit >= 1 && c.limit <= kMaxPullLimit);
      break;
    }
    case CommandType::kJoin:
    case CommandType::kLeave: {
      ConvId id;
      Check(ParseConv(c.conv, &id) && id.kind == ConvKind::kGroup);
      break;
    }
    case CommandType::kPresence:
    case CommandType::kWatch:
      Check(c.users.size() <= kMaxUsers);
      for (std::string_view u : c.users) {
        Check(IsValidId(u));
      }
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static CommandParser* parser = new CommandParser(4096);
  const char* text = reinterpret_cast<const char*>(data);

  std::string padded(text, size);
  padded.append(simdjson::SIMDJSON_PADDING, '"');
  Command in_place;
  const ParseStatus st1 = parser->Parse(padded.data(), size, padded.size(), &in_place);
  if (st1.ok()) {
    CheckContract(in_place, padded.data(), size);
  }
  const std::string first = Describe(st1, in_place);

  std::unique_ptr<char[]> exact(new char[size]);
  std::memcpy(exact.get(), text, size);
  Command copied;
  const ParseStatus st2 = parser->Parse(exact.get(), size, size, &copied);
  Check(Describe(st2, copied) == first);

  simdjson::dom::parser dom;
  simdjson::dom::element root;
  const auto err = dom.parse(text, size).get(root);
  if (err == simdjson::SUCCESS && root.type() == simdjson::dom::element_type::OBJECT) {
    Check(std::string_view(st1.msg) != "invalid JSON" &&
          std::string_view(st1.msg) != "frame is not a JSON object");
  } else if (err != simdjson::SUCCESS && err != simdjson::NUMBER_ERROR) {
    Check(!st1.ok() && IsJsonLevelError(st1) && !in_place.has_id);
  }
  return 0;
}
