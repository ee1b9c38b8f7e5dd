// HS256 JWT verification and signing (see jwt.h for the checks and their
// order). The token is attacker-controlled, so this file parses it with its
// own small RFC 8259 reader instead of a general JSON library: the reader
// accepts exactly one object, keeps only the top-level members (decoded
// strings and number literals), skips nested values up to kMaxJsonDepth, and
// refuses duplicate keys, invalid UTF-8, lone surrogates and trailing bytes.
// No function here keeps state between calls; the buffers live on the
// caller's stack and heap for the duration of one call.
#include "auth/jwt.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <vector>

#include <climits>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace longlink::auth {

namespace {

constexpr size_t kMacBytes = 32;  // SHA-256 output.
// Nesting deeper than this inside a header or payload is refused; it bounds
// the reader's recursion (each level is one small stack frame).
constexpr int kMaxJsonDepth = 32;
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";

// ---- base64url -------------------------------------------------------------

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The 6-bit value of a base64url character, or -1.
int Sextet(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

// ---- UTF-8 -----------------------------------------------------------------

// RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t more;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= more)
      return false;
    for (size_t k = 1; k <= more; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((more == 2 && cp < 0x800) || (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += more + 1;
  }
  return true;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// ---- JSON ------------------------------------------------------------------

enum class JsonKind { kString, kNumber, kOther };

// One top-level member. Nested objects and arrays, true, false and null are
// validated and then only recorded as kOther.
struct JsonMember {
  std::string key;  // Escapes decoded.
  JsonKind kind = JsonKind::kOther;
  std::string text;         // kString: the decoded value.
  std::string_view number;  // kNumber: the literal, a view into the input.
};

// Reads one JSON object from `text`. Invariant: pos_ <= text_.size().
class JsonObjectReader {
 public:
  explicit JsonObjectReader(std::string_view text) : text_(text) {}

  // False on any deviation from RFC 8259, on bytes after the object, on
  // nesting deeper than kMaxJsonDepth, or on two top-level members whose
  // decoded keys are equal.
  bool Read(std::vector<JsonMember>* members) {
    if (!IsValidUtf8(text_))
      return false;
    SkipSpace();
    if (!Object(members, 0))
      return false;
    SkipSpace();
    return pos_ == text_.size() && !HasDuplicateKey(*members);
  }

 private:
  static bool HasDuplicateKey(const std::vector<JsonMember>& members) {
    std::vector<std::string_view> keys;
    keys.reserve(members.size());
    for (const JsonMember& m : members) keys.push_back(m.key);
    std::sort(keys.begin(), keys.end());
    return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
  }

  bool AtEnd() const { return pos_ == text_.size(); }
  char Peek() const { return text_[pos_]; }  // REQUIRES: !AtEnd().

  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r'))
      ++pos_;
  }

  bool Consume(char c) {
    if (AtEnd() || Peek() != c)
      return false;
    ++pos_;
    return true;
  }

  bool ConsumeDigits() {
    size_t start = pos_;
    while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    return pos_ > start;
  }

  // `members` is null for nested objects, whose members are not kept.
  bool Object(std::vector<JsonMember>* members, int depth) {
    if (!Consume('{'))
      return false;
    SkipSpace();
    if (Consume('}'))
      return true;
    while (true) {
      SkipSpace();
      JsonMember member;
      JsonMember* keep = members != nullptr ? &member : nullptr;
      if (!String(keep != nullptr ? &keep->key : nullptr))
        return false;
      SkipSpace();
      if (!Consume(':'))
        return false;
      SkipSpace();
      if (!Value(keep, depth))
        return false;
      if (members != nullptr)
        members->push_back(std::move(member));
      SkipSpace();
      if (Consume(','))
        continue;
      return Consume('}');
    }
  }

  bool Array(int depth) {
    if (!Consume('['))
      return false;
    SkipSpace();
    if (Consume(']'))
      return true;
    while (true) {
      SkipSpace();
      if (!Value(nullptr, depth))
        return false;
      SkipSpace();
      if (Consume(','))
        continue;
      return Consume(']');
    }
  }

  // `member` is null when the value is not a top-level member's.
  bool Value(JsonMember* member, int depth) {
    if (AtEnd())
      return false;
    switch (Peek()) {
      case '"':
        if (member != nullptr)
          member->kind = JsonKind::kString;
        return String(member != nullptr ? &member->text : nullptr);
      case '{':
        return depth < kMaxJsonDepth && Object(nullptr, depth + 1);
      case '[':
        return depth < kMaxJsonDepth && Array(depth + 1);
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        if (member != nullptr)
          member->kind = JsonKind::kNumber;
        return Number(member != nullptr ? &member->number : nullptr);
    }
  }

  bool Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word)
      return false;
    pos_ += word.size();
    return true;
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool Number(std::string_view* literal) {
    size_t start = pos_;
    Consume('-');
    if (!Consume('0')) {
      if (AtEnd() || Peek() < '1' || Peek() > '9')
        return false;
      ConsumeDigits();
    }
    if (Consume('.') && !ConsumeDigits())
      return false;
    if (Consume('e') || Consume('E')) {
      if (!Consume('+'))
        Consume('-');
      if (!ConsumeDigits())
        return false;
    }
    if (literal != nullptr)
      *literal = text_.substr(start, pos_ - start);
    return true;
  }

  bool Hex4(uint32_t* out) {
    if (text_.size() - pos_ < 4)
      return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      uint32_t d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else
        return false;
      v = (v << 4) | d;
    }
    *out = v;
    return true;
  }

  // After "\u": four hex digits, or a high and a low surrogate escape.
  bool UnicodeEscape(std::string* out) {
    uint32_t cp;
    if (!Hex4(&cp))
      return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return false;  // A low surrogate with no high one before it.
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low;
      if (!Consume('\\') || !Consume('u') || !Hex4(&low) || low < 0xDC00 || low > 0xDFFF)
        return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (out != nullptr)
      AppendUtf8(cp, out);
    return true;
  }

  // A string with its escapes decoded into `out` (null: validate only). Raw
  // bytes are already known to be valid UTF-8; control bytes must be escaped.
  bool String(std::string* out) {
    if (!Consume('"'))
      return false;
    while (!AtEnd()) {
      char c = text_[pos_++];
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return false;
      if (c == '\\') {
        if (AtEnd())
          return false;
        char e = text_[pos_++];
        switch (e) {
          case '"':
          case '\\':
          case '/':
            c = e;
            break;
          case 'b':
            c = '\b';
            break;
          case 'f':
            c = '\f';
            break;
          case 'n':
            c = '\n';
            break;
          case 'r':
            c = '\r';
            break;
          case 't':
            c = '\t';
            break;
          case 'u':
            if (!UnicodeEscape(out))
              return false;
            continue;
          default:
            return false;
        }
      }
      if (out != nullptr)
        out->push_back(c);
    }
    return false;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

JsonMember* FindMember(std::vector<JsonMember>& members, std::string_view key) {
  for (JsonMember& m : members) {
    if (m.key == key)
      return &m;
  }
  return nullptr;
}

// True if `member` is a JWT NumericDate (RFC 7519 section 2: seconds, "non-
// integer values can be represented") within int64: an integer literal as
// written, any other number (fraction, exponent) rounded down.
bool MemberAsSeconds(const JsonMember* member, int64_t* out) {
  if (member == nullptr || member->kind != JsonKind::kNumber)
    return false;
  std::string_view s = member->number;
  const char* end = s.data() + s.size();
  int64_t v = 0;
  auto r = std::from_chars(s.data(), end, v);
  if (r.ec == std::errc() && r.ptr == end) {
    *out = v;
    return true;
  }
  double d = 0;
  auto rd = std::from_chars(s.data(), end, d);
  // [-2^63, 2^63): the doubles whose floor is an int64.
  if (rd.ec != std::errc() || rd.ptr != end || !(d >= -0x1p63 && d < 0x1p63))
    return false;
  *out = static_cast<int64_t>(std::floor(d));
  return true;
}

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 0xF]);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

// ---- HMAC and the three checks ----------------------------------------------

bool HmacSha256(std::string_view key, std::string_view data, unsigned char (&mac)[kMacBytes]) {
  static const unsigned char kNoBytes[1] = {0};
  if (key.size() > static_cast<size_t>(INT_MAX))
    return false;
  // OpenSSL reads a null key as "keep the previous key", so never pass one.
  const void* key_ptr = key.empty() ? static_cast<const void*>(kNoBytes) : key.data();
  const auto* data_ptr =
      data.empty() ? kNoBytes : reinterpret_cast<const unsigned char*>(data.data());
  unsigned int len = 0;
  return HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr, data.size(), mac,
              &len) != nullptr &&
         len == kMacBytes;
}

JwtError CheckHeader(std::string_view header) {
  std::vector<JsonMember> members;
  if (!JsonObjectReader(header).Read(&members))
    return JwtError::kMalformed;
  const JsonMember* alg = FindMember(members, "alg");
  if (alg == nullptr || alg->kind != JsonKind::kString || alg->text != "HS256")
    return JwtError::kBadAlg;
  // RFC 7515 4.1.11: extensions listed in `crit` must be understood, and we
  // implement none (e.g. RFC 7797 "b64":false would change what is signed).
  if (FindMember(members, "crit") != nullptr)
    return JwtError::kBadAlg;
  return JwtError::kOk;
}

JwtError CheckSignature(std::string_view signing_input, std::string_view signature,
                        std::string_view secret) {
  // An empty secret would let anyone sign; fail closed whatever the config.
  if (secret.empty() || signature.size() != kMacBytes)
    return JwtError::kBadSignature;
  unsigned char mac[kMacBytes];
  if (!HmacSha256(secret, signing_input, mac))
    return JwtError::kBadSignature;
  // Constant time, so response timing says nothing about how many leading
  // bytes of a forged signature were right.
  if (CRYPTO_memcmp(mac, signature.data(), kMacBytes) != 0)
    return JwtError::kBadSignature;
  return JwtError::kOk;
}

// REQUIRES: the payload's signature has been verified.
JwtError CheckPayload(std::string_view payload, int64_t now_s, Claims* out) {
  std::vector<JsonMember> members;
  if (!JsonObjectReader(payload).Read(&members))
    return JwtError::kMalformed;
  JsonMember* sub = FindMember(members, "sub");
  if (sub == nullptr || sub->kind != JsonKind::kString)
    return JwtError::kBadSub;
  int64_t exp = 0;
  if (!MemberAsSeconds(FindMember(members, "exp"), &exp))
    return JwtError::kNoExp;
  // Written so that exp + leeway cannot overflow: an exp that close to
  // INT64_MAX never expires.
  if (exp <= std::numeric_limits<int64_t>::max() - kExpLeewaySeconds &&
      now_s > exp + kExpLeewaySeconds)
    return JwtError::kExpired;
  int64_t iat = 0;
  if (!MemberAsSeconds(FindMember(members, "iat"), &iat))
    iat = 0;
  if (out != nullptr) {
    out->sub = std::move(sub->text);
    out->exp = exp;
    out->iat = iat;
  }
  return JwtError::kOk;
}

}  // namespace

std::string_view JwtErrorName(JwtError err) {
  switch (err) {
    case JwtError::kOk:
      return "ok";
    case JwtError::kMalformed:
      return "malformed";
    case JwtError::kBadAlg:
      return "bad_alg";
    case JwtError::kBadSignature:
      return "bad_signature";
    case JwtError::kExpired:
      return "expired";
    case JwtError::kNoExp:
      return "no_exp";
    case JwtError::kBadSub:
      return "bad_sub";
  }
  return "unknown";
}

std::string Base64UrlEncode(std::string_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest == 0)
    return out;
  uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
  if (rest == 2)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
  out.push_back(kAlphabet[(v >> 18) & 63]);
  out.push_back(kAlphabet[(v >> 12) & 63]);
  if (rest == 2)
    out.push_back(kAlphabet[(v >> 6) & 63]);
  return out;
}

bool Base64UrlDecode(std::string_view text, std::string* out) {
  out->clear();
  if (text.size() % 4 == 1)
    return false;  // 6 bits cannot end a byte.
  out->reserve(text.size() * 3 / 4);
  uint32_t acc = 0;  // Only the low `bits` bits are pending; higher ones are spent.
  int bits = 0;
  for (char c : text) {
    int v = Sextet(c);
    if (v < 0)
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // 2 or 4 bits left over: the encoder writes them as zero.
  return (acc & ((1u << bits) - 1)) == 0;
}

JwtError VerifyHs256(std::string_view token, std::string_view secret, int64_t now_s, Claims* out) {
  if (token.size() > kMaxTokenBytes)
    return JwtError::kMalformed;
  size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos)
    return JwtError::kMalformed;
  size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return JwtError::kMalformed;
  std::string header, payload, signature;
  if (!Base64UrlDecode(token.substr(0, dot1), &header) ||
      !Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1), &payload) ||
      !Base64UrlDecode(token.substr(dot2 + 1), &signature))
    return JwtError::kMalformed;
  JwtError err = CheckHeader(header);
  if (err != JwtError::kOk)
    return err;
  err = CheckSignature(token.substr(0, dot2), signature, secret);
  if (err != JwtError::kOk)
    return err;
  return CheckPayload(payload, now_s, out);
}

std::string SignRawHs256(std::string_view header_json, std::string_view payload_json,
                         std::string_view secret) {
  std::string token = Base64UrlEncode(header_json);
  token.push_back('.');
  token += Base64UrlEncode(payload_json);
  unsigned char mac[kMacBytes];
  if (!HmacSha256(secret, token, mac))
    return std::string();
  token.push_back('.');
  token += Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), kMacBytes));
  return token;
}

std::string SignHs256(std::string_view sub, int64_t exp, int64_t iat, std::string_view secret) {
  std::string payload = "{\"sub\":";
  AppendJsonString(sub, &payload);
  payload += ",\"iat\":";
  payload += std::to_string(iat);
  payload += ",\"exp\":";
  payload += std::to_string(exp);
  payload.push_back('}');
  return SignRawHs256(kHeaderJson, payload, secret);
}

}  // namespace longlink::auth
