// CommandParser: one pass of simdjson On-Demand over a client frame.
//
// On-Demand validates lazily: it checks UTF-8, string boundaries and
// unescaped control characters for the whole input up front (stage 1), but a
// value that is skipped rather than read is only bracket-counted, so
// `{"t":"ping","x":[1,}}` would slip through. We therefore read every value,
// known member or not: containers are walked, strings unescaped (which checks
// escapes), and numbers and literals are checked against the RFC 8259
// grammar on their raw token. That is the whole frame validated in the same
// single pass that extracts the members.
//
// Pass 1 (the walk) fills one Slot per known member name, whatever `t` is,
// since `t` may come last. Pass 2 (Build*) judges the slots against the type.
#include "proto/command.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include <simdjson.h>

namespace longlink::proto {
namespace {

namespace od = simdjson::ondemand;

constexpr size_t kRetainedCapacity = size_t{1} << 20;

// At least double `cap` to fit `need`, starting at 4 KiB and stopping at
// kRetainedCapacity. REQUIRES: need <= kRetainedCapacity.
size_t GrownCapacity(size_t cap, size_t need) {
  return std::min(std::max({need, cap * 2, size_t{4096}}), kRetainedCapacity);
}

constexpr const char* kMsgInvalidJson = "invalid JSON";
constexpr const char* kMsgNotObject = "frame is not a JSON object";
constexpr const char* kMsgTooDeep = "JSON nested too deep";

ParseStatus BadRequest(const char* msg) {
  return ParseStatus{ErrorCode::kBadRequest, msg};
}

ParseStatus NotObject(const char* msg) {
  return ParseStatus{ErrorCode::kBadRequest, msg, true};
}

enum class Kind : uint8_t { kAbsent, kNull, kBool, kInteger, kFraction, kString, kArray, kObject };

// What pass 1 learned of one member.
struct Slot {
  Kind kind = Kind::kAbsent;
  bool boolean = false;    // kBool
  bool negative = false;   // kInteger written with '-'
  uint64_t magnitude = 0;  // kInteger, saturated at UINT64_MAX
  std::string_view text;   // kString: unescaped; body: raw JSON text
};

enum Member : uint8_t {
  kT,
  kId,
  kV,
  kToken,
  kUser,
  kDevice,
  kTo,
  kCmid,
  kBody,
  kEphemeral,
  kConv,
  kSeq,
  kAfter,
  kBefore,
  kLimit,
  kAll,
  kUsers,
  kMemberCount,
  kUnknown = kMemberCount,
};
static_assert(kMemberCount <= 32, "members are tracked in a 32-bit mask");

Member LookupMember(std::string_view k) {
  switch (k.size()) {
    case 1:
      return k[0] == 't' ? kT : k[0] == 'v' ? kV : kUnknown;
    case 2:
      return k == "id" ? kId : k == "to" ? kTo : kUnknown;
    case 3:
      return k == "seq" ? kSeq : k == "all" ? kAll : kUnknown;
    case 4:
      return k == "conv"   ? kConv
             : k == "body" ? kBody
             : k == "cmid" ? kCmid
             : k == "user" ? kUser
                           : kUnknown;
    case 5:
      return k == "users"   ? kUsers
             : k == "after" ? kAfter
             : k == "limit" ? kLimit
             : k == "token" ? kToken
                            : kUnknown;
    case 6:
      return k == "device" ? kDevice : k == "before" ? kBefore : kUnknown;
    case 9:
      return k == "ephemeral" ? kEphemeral : kUnknown;
    default:
      return kUnknown;
  }
}

struct TypeName {
  std::string_view name;
  CommandType type;
};
constexpr std::array<TypeName, 11> kTypes = {{
    {"hello", CommandType::kHello},
    {"send", CommandType::kSend},
    {"recv", CommandType::kRecv},
    {"read", CommandType::kRead},
    {"sync", CommandType::kSync},
    {"pull", CommandType::kPull},
    {"join", CommandType::kJoin},
    {"leave", CommandType::kLeave},
    {"presence", CommandType::kPresence},
    {"watch", CommandType::kWatch},
    {"ping", CommandType::kPing},
}};

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// Checks `tok` against the RFC 8259 number grammar
//   -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
// and classifies it. Integers of any length are valid JSON; their magnitude
// saturates at UINT64_MAX.
bool ClassifyNumber(std::string_view tok, Slot* slot) {
  size_t i = 0;
  const size_t n = tok.size();
  slot->negative = i < n && tok[i] == '-';
  i += slot->negative ? 1 : 0;
  if (i == n || !IsDigit(tok[i])) {
    return false;
  }
  uint64_t m = 0;
  if (tok[i] == '0') {
    ++i;
  } else {
    for (; i < n && IsDigit(tok[i]); ++i) {
      const uint64_t d = uint64_t(tok[i] - '0');
      m = (m > (UINT64_MAX - d) / 10) ? UINT64_MAX : m * 10 + d;
    }
  }
  bool integer = true;
  if (i < n && tok[i] == '.') {
    integer = false;
    const size_t start = ++i;
    while (i < n && IsDigit(tok[i])) {
      ++i;
    }
    if (i == start) {
      return false;
    }
  }
  if (i < n && (tok[i] == 'e' || tok[i] == 'E')) {
    integer = false;
    ++i;
    if (i < n && (tok[i] == '+' || tok[i] == '-')) {
      ++i;
    }
    const size_t start = i;
    while (i < n && IsDigit(tok[i])) {
      ++i;
    }
    if (i == start) {
      return false;
    }
  }
  if (i != n) {
    return false;
  }
  slot->kind = integer ? Kind::kInteger : Kind::kFraction;
  slot->magnitude = m;
  return true;
}

enum class Read : uint8_t { kOk, kInvalidJson, kTooDeep };

Read ReadValue(od::value v, int depth, Slot* slot);

Read ReadObject(od::value v, int depth) {
  od::object obj;
  if (v.get_object().get(obj) != simdjson::SUCCESS) {
    return Read::kInvalidJson;
  }
  for (auto field_result : obj) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) != simdjson::SUCCESS ||
        field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return Read::kInvalidJson;
    }
    Slot scratch;
    const Read r = ReadValue(field.value(), depth + 1, &scratch);
    if (r != Read::kOk) {
      return r;
    }
  }
  return Read::kOk;
}

Read ReadArray(od::value v, int depth) {
  od::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) {
    return Read::kInvalidJson;
  }
  for (auto element_result : arr) {
    od::value element;
    if (std::move(element_result).get(element) != simdjson::SUCCESS) {
      return Read::kInvalidJson;
    }
    Slot scratch;
    const Read r = ReadValue(element, depth + 1, &scratch);
    if (r != Read::kOk) {
      return r;
    }
  }
  return Read::kOk;
}

// Validates `v` (at nesting `depth`; the frame object is 1) and everything in
// it, and classifies it into *slot. A string's text is unescaped into the
// parser's string buffer.
Read ReadValue(od::value v, int depth, Slot* slot) {
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) {
    return Read::kInvalidJson;
  }
  switch (type) {
    case od::json_type::object:
      slot->kind = Kind::kObject;
      return depth > kMaxDepth ? Read::kTooDeep : ReadObject(v, depth);
    case od::json_type::array:
      slot->kind = Kind::kArray;
      return depth > kMaxDepth ? Read::kTooDeep : ReadArray(v, depth);
    case od::json_type::string:
      slot->kind = Kind::kString;
      return v.get_string().get(slot->text) == simdjson::SUCCESS ? Read::kOk : Read::kInvalidJson;
    case od::json_type::number:
      return ClassifyNumber(TrimRight(v.raw_json_token()), slot) ? Read::kOk : Read::kInvalidJson;
    case od::json_type::boolean:
    case od::json_type::null: {
      const std::string_view tok = TrimRight(v.raw_json_token());
      if (tok == "null") {
        slot->kind = Kind::kNull;
      } else if (tok == "true" || tok == "false") {
        slot->kind = Kind::kBool;
        slot->boolean = tok[0] == 't';
      } else {
        return Read::kInvalidJson;
      }
      return Read::kOk;
    }
  }
  return Read::kInvalidJson;
}

bool IsNonNegativeInteger(const Slot& s) {
  return s.kind == Kind::kInteger && (!s.negative || s.magnitude == 0);
}

}  // namespace

const char* CommandTypeName(CommandType type) {
  for (const TypeName& t : kTypes) {
    if (t.type == type) {
      return t.name.data();
    }
  }
  return "?";
}

ParseStatus CheckHello(const HelloArgs& hello, HelloAuth auth) {
  if (hello.v != MemberState::kValid) {
    return BadRequest("v must be 1");
  }
  if (hello.device == MemberState::kInvalid) {
    return BadRequest("device must be a valid id");
  }
  if (auth == HelloAuth::kToken && hello.token != MemberState::kValid) {
    return ParseStatus{ErrorCode::kUnauthorized, "missing token"};
  }
  if (auth == HelloAuth::kUserName && hello.user != MemberState::kValid) {
    return ParseStatus{ErrorCode::kUnauthorized, "missing or invalid user"};
  }
  return ParseStatus{};
}

struct CommandParser::Impl {
  od::parser parser;
  // Slots are only valid where their bit in `present` is set, which spares
  // clearing them all for every frame.
  std::array<Slot, kMemberCount> slots;
  uint32_t present = 0;
  std::vector<std::string_view> users;
  bool users_bad = false;  // an element is not a string in the id grammar
  size_t users_seen = 0;   // elements, including those past kMaxUsers
  // The padded copy of a frame whose buffer lacks SIMDJSON_PADDING slack.
  std::unique_ptr<char[]> padded;
  size_t padded_capacity = 0;

  const Slot& Get(Member m) const {
    static const Slot kAbsentSlot;
    return (present & (1u << m)) != 0 ? slots[m] : kAbsentSlot;
  }

  Read ReadFrame(od::document& doc);
  Read ReadMember(od::document& doc, Member m, od::value v);
  Read ReadUsers(od::value v, Slot* slot);
  Read ReadBody(od::document& doc, od::value v, Slot* slot);
  bool FitCapacity(size_t len);
  const char* EnsurePadded(const char* data, size_t len);

  ParseStatus Build(Command* out, size_t max_body);
  ParseStatus BuildSend(Command* out, size_t max_body);
  ParseStatus BuildCursor(Command* out);
  ParseStatus BuildPull(Command* out);
  ParseStatus BuildConv(Command* out, bool group_only);
  ParseStatus BuildUsers(Command* out);
  void BuildHello(Command* out);
};

Read CommandParser::Impl::ReadFrame(od::document& doc) {
  od::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Read::kInvalidJson;
  }
  for (auto field_result : obj) {
    od::field field;
    std::string_view key;
    if (std::move(field_result).get(field) != simdjson::SUCCESS ||
        field.unescaped_key().get(key) != simdjson::SUCCESS) {
      return Read::kInvalidJson;
    }
    const Read r = ReadMember(doc, LookupMember(key), field.value());
    if (r != Read::kOk) {
      return r;
    }
  }
  // Only whitespace may follow the object: current_location() fails with
  // OUT_OF_BOUNDS exactly when no token is left.
  const char* rest = nullptr;
  return doc.current_location().get(rest) == simdjson::OUT_OF_BOUNDS ? Read::kOk
                                                                     : Read::kInvalidJson;
}

Read CommandParser::Impl::ReadMember(od::document& doc, Member m, od::value v) {
  if (m == kUnknown) {
    Slot scratch;
    return ReadValue(v, 2, &scratch);
  }
  Slot* slot = &slots[m];
  *slot = Slot{};  // a repeated member: the last one counts
  present |= 1u << m;
  if (m == kBody) {
    return ReadBody(doc, v, slot);
  }
  if (m == kUsers) {
    return ReadUsers(v, slot);
  }
  return ReadValue(v, 2, slot);
}

// The body's text runs from its first token to the start of the token after
// it (the ',' or '}' that follows the member), minus whitespace; for a
// scalar that is its own token.
Read CommandParser::Impl::ReadBody(od::document& doc, od::value v, Slot* slot) {
  const std::string_view first = v.raw_json_token();
  const Read r = ReadValue(v, 2, slot);
  if (r != Read::kOk) {
    return r;
  }
  if (slot->kind != Kind::kObject && slot->kind != Kind::kArray) {
    slot->text = TrimRight(first);
    return Read::kOk;
  }
  const char* next = nullptr;
  if (doc.current_location().get(next) != simdjson::SUCCESS || next < first.data()) {
    return Read::kInvalidJson;
  }
  slot->text = TrimRight(std::string_view(first.data(), size_t(next - first.data())));
  return Read::kOk;
}

Read CommandParser::Impl::ReadUsers(od::value v, Slot* slot) {
  users.clear();
  users_bad = false;
  users_seen = 0;
  od::json_type type;
  if (v.type().get(type) != simdjson::SUCCESS) {
    return Read::kInvalidJson;
  }
  if (type != od::json_type::array) {
    return ReadValue(v, 2, slot);
  }
  slot->kind = Kind::kArray;
  od::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) {
    return Read::kInvalidJson;
  }
  for (auto element_result : arr) {
    od::value element;
    if (std::move(element_result).get(element) != simdjson::SUCCESS) {
      return Read::kInvalidJson;
    }
    Slot item;
    const Read r = ReadValue(element, 3, &item);
    if (r != Read::kOk) {
      return r;
    }
    ++users_seen;
    if (item.kind != Kind::kString || !IsValidId(item.text)) {
      users_bad = true;
    } else if (users.size() < kMaxUsers) {
      users.push_back(item.text);
    }
  }
  return Read::kOk;
}

// simdjson needs about 6 bytes of buffers per input byte (4 of structural
// indexes, 5/3 of string buffer). Capacity grows geometrically (simdjson alone would
// reallocate to each new size) and is kept up to kRetainedCapacity; after a
// bigger frame, the next frame that fits in kRetainedCapacity gives the rest
// back, so one 16 MiB message does not pin 100 MiB per shard.
bool CommandParser::Impl::FitCapacity(size_t len) {
  const size_t cap = parser.capacity();
  size_t want = 0;
  if (cap < len) {
    want = len > kRetainedCapacity ? len : GrownCapacity(cap, len);
  } else if (cap > kRetainedCapacity && len <= kRetainedCapacity) {
    want = kRetainedCapacity;
  } else {
    return true;
  }
  return parser.allocate(want, simdjson::DEFAULT_MAX_DEPTH) == simdjson::SUCCESS;
}

const char* CommandParser::Impl::EnsurePadded(const char* data, size_t len) {
  static_assert(CommandParser::kPadding == simdjson::SIMDJSON_PADDING);
  const size_t need = len + simdjson::SIMDJSON_PADDING;
  if (padded_capacity > kRetainedCapacity && need <= kRetainedCapacity) {
    padded.reset();
    padded_capacity = 0;
  }
  if (padded_capacity < need) {
    const size_t cap = need > kRetainedCapacity ? need : GrownCapacity(padded_capacity, need);
    padded.reset(new (std::nothrow) char[cap]);
    padded_capacity = padded ? cap : 0;
    if (!padded) {
      return nullptr;
    }
  }
  std::memcpy(padded.get(), data, len);
  // simdjson may read the padding; give it defined bytes.
  std::memset(padded.get() + len, 0, simdjson::SIMDJSON_PADDING);
  return padded.get();
}

CommandParser::CommandParser(size_t max_body) : impl_(new Impl), max_body_(max_body) {
  impl_->users.reserve(kMaxUsers);
}

CommandParser::~CommandParser() = default;

ParseStatus CommandParser::Parse(const char* data, size_t len, size_t capacity, Command* out) {
  *out = Command{};
  Impl& im = *impl_;
  im.present = 0;
  im.users.clear();
  im.users_bad = false;
  im.users_seen = 0;

  if (capacity < len || capacity - len < simdjson::SIMDJSON_PADDING) {
    data = im.EnsurePadded(data, len);
    capacity = len + simdjson::SIMDJSON_PADDING;
    if (data == nullptr) {
      return ParseStatus{ErrorCode::kInternal, "out of memory"};
    }
  }
  if (!im.FitCapacity(len)) {
    return ParseStatus{ErrorCode::kInternal, "out of memory"};
  }
  od::document doc;
  if (im.parser.iterate(data, len, capacity).get(doc) != simdjson::SUCCESS) {
    return NotObject(kMsgInvalidJson);
  }
  od::json_type root;
  if (doc.type().get(root) == simdjson::SUCCESS && root != od::json_type::object) {
    return NotObject(kMsgNotObject);
  }
  switch (im.ReadFrame(doc)) {
    case Read::kOk:
      break;
    case Read::kInvalidJson:
      return NotObject(kMsgInvalidJson);
    case Read::kTooDeep: {
      // The error carries the request's id when it came before the depth,
      // if the frame is JSON at all: the part past the depth was not read,
      // so a validating parse decides (a rare path; invalid JSON gets no id).
      const Slot& id = im.Get(kId);
      simdjson::dom::parser dom;
      simdjson::dom::element whole;
      const auto err = dom.parse(reinterpret_cast<const uint8_t*>(data), len, false).get(whole);
      const bool json = err == simdjson::SUCCESS || err == simdjson::NUMBER_ERROR;
      if (json && IsNonNegativeInteger(id) && id.magnitude <= kMaxFrameId) {
        out->has_id = true;
        out->id = id.magnitude;
      }
      return BadRequest(kMsgTooDeep);
    }
  }
  return im.Build(out, max_body_);
}

ParseStatus CommandParser::Impl::Build(Command* out, size_t max_body) {
  const Slot& id = Get(kId);
  if (id.kind != Kind::kAbsent) {
    if (!IsNonNegativeInteger(id) || id.magnitude > kMaxFrameId) {
      return BadRequest("id must be an integer in 0..2^53");
    }
    out->has_id = true;
    out->id = id.magnitude;
  }
  const Slot& t = Get(kT);
  if (t.kind == Kind::kAbsent) {
    return BadRequest("missing member: t");
  }
  if (t.kind != Kind::kString) {
    return BadRequest("t must be a string");
  }
  const TypeName* found = nullptr;
  for (const TypeName& tn : kTypes) {
    if (tn.name == t.text) {
      found = &tn;
      break;
    }
  }
  if (found == nullptr) {
    return BadRequest("unknown t");
  }
  out->type = found->type;
  switch (out->type) {
    case CommandType::kHello:
      BuildHello(out);
      return ParseStatus{};
    case CommandType::kSend:
      return BuildSend(out, max_body);
    case CommandType::kRecv:
    case CommandType::kRead:
      return BuildCursor(out);
    case CommandType::kPull:
      return BuildPull(out);
    case CommandType::kJoin:
    case CommandType::kLeave:
      return BuildConv(out, /*group_only=*/true);
    case CommandType::kPresence:
    case CommandType::kWatch:
      return BuildUsers(out);
    case CommandType::kSync: {
      const Slot& all = Get(kAll);
      if (all.kind != Kind::kAbsent && all.kind != Kind::kBool) {
        return BadRequest("all must be a boolean");
      }
      out->all = all.boolean;
      return ParseStatus{};
    }
    case CommandType::kPing:
      return ParseStatus{};
  }
  return BadRequest("unknown t");
}

void CommandParser::Impl::BuildHello(Command* out) {
  HelloArgs& h = out->hello;
  const Slot& v = Get(kV);
  if (v.kind != Kind::kAbsent) {
    const bool one = v.kind == Kind::kInteger && !v.negative && v.magnitude == 1;
    h.v = one ? MemberState::kValid : MemberState::kInvalid;
  }
  const Slot& token = Get(kToken);
  if (token.kind != Kind::kAbsent) {
    h.token = token.kind == Kind::kString ? MemberState::kValid : MemberState::kInvalid;
    h.token_value = token.kind == Kind::kString ? token.text : std::string_view();
  }
  const Slot& user = Get(kUser);
  if (user.kind != Kind::kAbsent) {
    const bool ok = user.kind == Kind::kString && IsValidId(user.text);
    h.user = ok ? MemberState::kValid : MemberState::kInvalid;
    h.user_value = ok ? user.text : std::string_view();
  }
  const Slot& device = Get(kDevice);
  if (device.kind != Kind::kAbsent) {
    const bool ok = device.kind == Kind::kString && IsValidId(device.text);
    h.device = ok ? MemberState::kValid : MemberState::kInvalid;
    h.device_value = ok ? device.text : std::string_view();
  }
}

ParseStatus CommandParser::Impl::BuildSend(Command* out, size_t max_body) {
  const Slot& to = Get(kTo);
  if (to.kind == Kind::kAbsent) {
    return BadRequest("missing member: to");
  }
  const Slot& cmid = Get(kCmid);
  if (cmid.kind == Kind::kAbsent) {
    return BadRequest("missing member: cmid");
  }
  if (cmid.kind != Kind::kString || !IsValidId(cmid.text)) {
    return BadRequest("cmid must be a valid id");
  }
  out->cmid = cmid.text;
  const Slot& body = Get(kBody);
  if (body.kind == Kind::kAbsent) {
    return BadRequest("missing member: body");
  }
  out->body = body.text;
  const Slot& ephemeral = Get(kEphemeral);
  if (ephemeral.kind != Kind::kAbsent && ephemeral.kind != Kind::kBool) {
    return BadRequest("ephemeral must be a boolean");
  }
  out->ephemeral = ephemeral.boolean;
  // Whatever `to` and `body` a repeat carries (section 4): these two errors
  // wait for the cmid's lookup (ParseStatus::unless_dup).
  ParseStatus st;
  if (to.kind != Kind::kString || !ParseDestination(to.text, &out->to)) {
    st = BadRequest("to must be u:<user> or g:<group>");
  } else if (out->body.size() > max_body) {
    st = ParseStatus{ErrorCode::kTooLarge, "body exceeds max_body"};
  }
  st.unless_dup = !st.ok() && !out->ephemeral;
  return st;
}

ParseStatus CommandParser::Impl::BuildConv(Command* out, bool group_only) {
  const Slot& conv = Get(kConv);
  if (conv.kind == Kind::kAbsent) {
    return BadRequest("missing member: conv");
  }
  if (conv.kind != Kind::kString || !ParseConv(conv.text, &out->conv_id)) {
    return BadRequest(group_only ? "conv must be g:<group>" : "conv must be a conversation id");
  }
  if (group_only && out->conv_id.kind != ConvKind::kGroup) {
    return BadRequest("conv must be g:<group>");
  }
  out->conv = conv.text;
  return ParseStatus{};
}

ParseStatus CommandParser::Impl::BuildCursor(Command* out) {
  const ParseStatus st = BuildConv(out, /*group_only=*/false);
  if (!st.ok()) {
    return st;
  }
  const Slot& seq = Get(kSeq);
  if (seq.kind == Kind::kAbsent) {
    return BadRequest("missing member: seq");
  }
  if (!IsNonNegativeInteger(seq)) {
    return BadRequest("seq must be a non-negative integer");
  }
  out->seq = seq.magnitude;
  return ParseStatus{};
}

ParseStatus CommandParser::Impl::BuildPull(Command* out) {
  const ParseStatus st = BuildConv(out, /*group_only=*/false);
  if (!st.ok()) {
    return st;
  }
  const Slot& after = Get(kAfter);
  if (after.kind != Kind::kAbsent) {
    if (!IsNonNegativeInteger(after)) {
      return BadRequest("after must be a non-negative integer");
    }
    out->has_after = true;
    out->after = after.magnitude;
  }
  const Slot& before = Get(kBefore);
  if (before.kind != Kind::kAbsent) {
    if (!IsNonNegativeInteger(before)) {
      return BadRequest("before must be a non-negative integer");
    }
    out->has_before = true;
    out->before = before.magnitude;
  }
  if (out->has_after && out->has_before) {
    return BadRequest("after and before are exclusive");
  }
  const Slot& limit = Get(kLimit);
  if (limit.kind != Kind::kAbsent) {
    if (limit.kind != Kind::kInteger) {
      return BadRequest("limit must be an integer");
    }
    const bool low = limit.negative || limit.magnitude < 1;
    out->limit = low ? 1 : uint32_t(std::min<uint64_t>(limit.magnitude, kMaxPullLimit));
  }
  return ParseStatus{};
}

ParseStatus CommandParser::Impl::BuildUsers(Command* out) {
  const Slot& s = Get(kUsers);
  if (s.kind == Kind::kAbsent) {
    return BadRequest("missing member: users");
  }
  if (s.kind != Kind::kArray || users_bad) {
    return BadRequest("users must be an array of valid user ids");
  }
  if (users_seen > kMaxUsers) {
    return BadRequest("users has more than 1000 entries");
  }
  out->users = std::span<const std::string_view>(users.data(), users.size());
  return ParseStatus{};
}

}  // namespace longlink::proto
