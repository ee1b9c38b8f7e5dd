// Server frame builders; see reply.h. Each frame is a handful of appends of
// literal pieces, escaped strings and to_chars integers into the caller's
// buffer, which keeps its capacity between frames.
#include "proto/reply.h"

#include <charconv>

namespace longlink::proto {
namespace {

// Appends a string literal without a strlen.
template <size_t N>
void Lit(std::string* out, const char (&s)[N]) {
  out->append(s, N - 1);
}

// `opening` is the frame up to its type, e.g. {"t":"ok"; then the id, if any.
template <size_t N>
void OpenFrame(std::string* out, const char (&opening)[N], FrameId id) {
  Lit(out, opening);
  if (id.has_value()) {
    Lit(out, ",\"id\":");
    AppendUint(out, *id);
  }
}

// The separator before a list item: none right after the list's opening.
void ItemSeparator(std::string* out) {
  const char last = out->back();
  if (last != '[' && last != '{') {
    out->push_back(',');
  }
}

// The members of a message after `t`, from "conv" up to the body (for an
// ephemeral message `seq` is replaced by "ephemeral":true).
void AppendMessageMembers(std::string* out, const Message& m, bool ephemeral) {
  Lit(out, "\"conv\":");
  AppendJsonString(out, m.conv);
  if (ephemeral) {
    Lit(out, ",\"ephemeral\":true");
  } else {
    Lit(out, ",\"seq\":");
    AppendUint(out, m.seq);
  }
  Lit(out, ",\"from\":");
  AppendJsonString(out, m.from);
  Lit(out, ",\"device\":");
  AppendJsonString(out, m.device);
  Lit(out, ",\"ts\":");
  AppendInt(out, m.ts);
  Lit(out, ",\"cmid\":");
  AppendJsonString(out, m.cmid);
  Lit(out, ",\"body\":");
  out->append(m.body);
}

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      continue;
    }
    out->append(s.data() + run, i - run);
    run = i + 1;
    char esc = 0;
    switch (c) {
      case '"':
        esc = '"';
        break;
      case '\\':
        esc = '\\';
        break;
      case '\b':
        esc = 'b';
        break;
      case '\f':
        esc = 'f';
        break;
      case '\n':
        esc = 'n';
        break;
      case '\r':
        esc = 'r';
        break;
      case '\t':
        esc = 't';
        break;
      default:
        break;
    }
    if (esc != 0) {
      const char pair[2] = {'\\', esc};
      out->append(pair, 2);
    } else {
      const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out->append(u, 6);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void AppendUint(std::string* out, uint64_t v) {
  char buf[20];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, size_t(r.ptr - buf));
}

void AppendInt(std::string* out, int64_t v) {
  char buf[20];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, size_t(r.ptr - buf));
}

void AppendWelcome(std::string* out, FrameId id, const Welcome& w) {
  OpenFrame(out, "{\"t\":\"welcome\"", id);
  Lit(out, ",\"user\":");
  AppendJsonString(out, w.user);
  Lit(out, ",\"device\":");
  AppendJsonString(out, w.device);
  Lit(out, ",\"session\":");
  AppendJsonString(out, w.session);
  Lit(out, ",\"heartbeat_ms\":");
  AppendUint(out, w.heartbeat_ms);
  Lit(out, ",\"max_body\":");
  AppendUint(out, w.max_body);
  Lit(out, ",\"ts\":");
  AppendInt(out, w.ts);
  out->push_back('}');
}

void AppendAck(std::string* out, FrameId id, const Ack& a) {
  OpenFrame(out, "{\"t\":\"ack\"", id);
  Lit(out, ",\"conv\":");
  AppendJsonString(out, a.conv);
  Lit(out, ",\"seq\":");
  AppendUint(out, a.seq);
  Lit(out, ",\"ts\":");
  AppendInt(out, a.ts);
  Lit(out, ",\"cmid\":");
  AppendJsonString(out, a.cmid);
  if (a.dup) {
    Lit(out, ",\"dup\":true");
  }
  out->push_back('}');
}

void AppendMsg(std::string* out, const Message& m) {
  Lit(out, "{\"t\":\"msg\",");
  AppendMessageMembers(out, m, /*ephemeral=*/false);
  out->push_back('}');
}

void AppendEphemeralMsg(std::string* out, const Message& m) {
  Lit(out, "{\"t\":\"msg\",");
  AppendMessageMembers(out, m, /*ephemeral=*/true);
  out->push_back('}');
}

void BeginPage(std::string* out, FrameId id, std::string_view conv) {
  OpenFrame(out, "{\"t\":\"page\"", id);
  Lit(out, ",\"conv\":");
  AppendJsonString(out, conv);
  Lit(out, ",\"msgs\":[");
}

void AddPageItem(std::string* out, const Message& m) {
  ItemSeparator(out);
  out->push_back('{');
  AppendMessageMembers(out, m, /*ephemeral=*/false);
  out->push_back('}');
}

void EndPage(std::string* out, bool more, std::optional<uint64_t> first) {
  if (more) {
    Lit(out, "],\"more\":true");
  } else {
    Lit(out, "],\"more\":false");
  }
  if (first.has_value()) {
    Lit(out, ",\"first\":");
    AppendUint(out, *first);
  }
  out->push_back('}');
}

void BeginSync(std::string* out, FrameId id) {
  OpenFrame(out, "{\"t\":\"sync\"", id);
  Lit(out, ",\"convs\":[");
}

void AddSyncEntry(std::string* out, const SyncEntry& e) {
  ItemSeparator(out);
  Lit(out, "{\"conv\":");
  AppendJsonString(out, e.conv);
  Lit(out, ",\"last\":");
  AppendUint(out, e.last);
  Lit(out, ",\"recv\":");
  AppendUint(out, e.recv);
  Lit(out, ",\"read\":");
  AppendUint(out, e.read);
  out->push_back('}');
}

void EndSync(std::string* out) {
  Lit(out, "]}");
}

void AppendError(std::string* out, FrameId id, ErrorCode code, std::string_view msg) {
  OpenFrame(out, "{\"t\":\"error\"", id);
  Lit(out, ",\"code\":\"");
  out->append(ErrorCodeName(code));
  Lit(out, "\",\"msg\":");
  AppendJsonString(out, msg);
  out->push_back('}');
}

void AppendRateLimited(std::string* out, FrameId id, uint64_t retry_ms) {
  OpenFrame(out, "{\"t\":\"error\"", id);
  Lit(out, ",\"code\":\"rate_limited\",\"msg\":\"rate limit exceeded\",\"retry_ms\":");
  AppendUint(out, retry_ms);
  out->push_back('}');
}

void AppendOk(std::string* out, FrameId id) {
  OpenFrame(out, "{\"t\":\"ok\"", id);
  out->push_back('}');
}

void AppendPong(std::string* out, FrameId id, int64_t ts) {
  OpenFrame(out, "{\"t\":\"pong\"", id);
  Lit(out, ",\"ts\":");
  AppendInt(out, ts);
  out->push_back('}');
}

void AppendReceipt(std::string* out, std::string_view conv, uint64_t seq, std::string_view user,
                   ReceiptKind kind) {
  Lit(out, "{\"t\":\"receipt\",\"conv\":");
  AppendJsonString(out, conv);
  Lit(out, ",\"seq\":");
  AppendUint(out, seq);
  Lit(out, ",\"user\":");
  AppendJsonString(out, user);
  if (kind == ReceiptKind::kDelivered) {
    Lit(out, ",\"kind\":\"delivered\"}");
  } else {
    Lit(out, ",\"kind\":\"read\"}");
  }
}

void BeginPresence(std::string* out, FrameId id) {
  OpenFrame(out, "{\"t\":\"presence\"", id);
  Lit(out, ",\"users\":{");
}

void AddPresenceOnline(std::string* out, std::string_view user, uint64_t devices) {
  ItemSeparator(out);
  AppendJsonString(out, user);
  Lit(out, ":{\"online\":true,\"devices\":");
  AppendUint(out, devices);
  out->push_back('}');
}

void AddPresenceOffline(std::string* out, std::string_view user, std::optional<int64_t> last_seen) {
  ItemSeparator(out);
  AppendJsonString(out, user);
  if (last_seen.has_value()) {
    Lit(out, ":{\"online\":false,\"last_seen\":");
    AppendInt(out, *last_seen);
    out->push_back('}');
  } else {
    Lit(out, ":{\"online\":false}");
  }
}

void EndPresence(std::string* out) {
  Lit(out, "}}");
}

void AppendPresencePush(std::string* out, std::string_view user, bool online, int64_t ts) {
  Lit(out, "{\"t\":\"presence\",\"user\":");
  AppendJsonString(out, user);
  if (online) {
    Lit(out, ",\"online\":true,\"ts\":");
  } else {
    Lit(out, ",\"online\":false,\"ts\":");
  }
  AppendInt(out, ts);
  out->push_back('}');
}

}  // namespace longlink::proto
