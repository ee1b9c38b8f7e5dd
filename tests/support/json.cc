// JsonParser: recursive descent over RFC 8259's grammar, recording each
// value's source span. Speed does not matter here; strictness does: no
// trailing commas, no leading zeros, no bare control characters in strings,
// no lone surrogates in \u escapes, nothing after the value.
#include "support/json.h"

#include <cerrno>
#include <cstdlib>
#include <limits>

namespace longlink::test {

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}

  bool ParseDocument(Json* out) {
    SkipWs();
    if (!ParseValue(out, 0))
      return false;
    SkipWs();
    if (pos_ != s_.size())
      return Fail("trailing characters");
    return true;
  }
  std::string error() const { return error_ + " at offset " + std::to_string(pos_); }

 private:
  bool Fail(const char* why) {
    if (error_.empty())
      error_ = why;
    return false;
  }
  void SkipWs() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word)
      return Fail("bad literal");
    pos_ += word.size();
    return true;
  }

  bool ParseValue(Json* v, int depth) {
    if (depth > 256)
      return Fail("too deep");
    if (pos_ >= s_.size())
      return Fail("unexpected end");
    size_t start = pos_;
    bool ok = false;
    char c = s_[pos_];
    if (c == '{') {
      ok = ParseObject(v, depth);
    } else if (c == '[') {
      ok = ParseArray(v, depth);
    } else if (c == '"') {
      v->type_ = Json::Type::kString;
      ok = ParseString(&v->str_);
    } else if (c == 't') {
      v->type_ = Json::Type::kBool;
      v->bool_ = true;
      ok = Literal("true");
    } else if (c == 'f') {
      v->type_ = Json::Type::kBool;
      ok = Literal("false");
    } else if (c == 'n') {
      v->type_ = Json::Type::kNull;
      ok = Literal("null");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      ok = ParseNumber(v);
    } else {
      return Fail("unexpected character");
    }
    if (ok)
      v->raw_ = std::string(s_.substr(start, pos_ - start));
    return ok;
  }

  bool ParseObject(Json* v, int depth) {
    v->type_ = Json::Type::kObject;
    ++pos_;  // '{'
    SkipWs();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      SkipWs();
      if (pos_ >= s_.size() || s_[pos_] != '"')
        return Fail("expected a member name");
      std::string key;
      if (!ParseString(&key))
        return false;
      SkipWs();
      if (pos_ >= s_.size() || s_[pos_] != ':')
        return Fail("expected ':'");
      ++pos_;
      SkipWs();
      Json member;
      if (!ParseValue(&member, depth + 1))
        return false;
      v->members_.emplace_back(std::move(key), std::move(member));
      SkipWs();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or '}'");
    }
  }

  bool ParseArray(Json* v, int depth) {
    v->type_ = Json::Type::kArray;
    ++pos_;  // '['
    SkipWs();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      SkipWs();
      Json item;
      if (!ParseValue(&item, depth + 1))
        return false;
      v->items_.push_back(std::move(item));
      SkipWs();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or ']'");
    }
  }

  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > s_.size())
      return Fail("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= uint32_t(c - 'A' + 10);
      else
        return Fail("bad hex digit");
    }
    *out = v;
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(char(cp));
    } else if (cp < 0x800) {
      out->push_back(char(0xC0 | (cp >> 6)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(char(0xE0 | (cp >> 12)));
      out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(char(0xF0 | (cp >> 18)));
      out->push_back(char(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    }
  }

  bool ParseString(std::string* out) {
    ++pos_;  // '"'
    for (;;) {
      if (pos_ >= s_.size())
        return Fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20)
        return Fail("control character in string");
      if (c != '\\') {
        out->push_back(char(c));
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size())
        return Fail("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(&cp))
            return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF)
            return Fail("lone low surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.substr(pos_, 2) != "\\u")
              return Fail("lone high surrogate");
            pos_ += 2;
            uint32_t lo = 0;
            if (!Hex4(&lo))
              return false;
            if (lo < 0xDC00 || lo > 0xDFFF)
              return Fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Fail("bad escape");
      }
    }
  }

  bool Digits() {
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  bool ParseNumber(Json* v) {
    v->type_ = Json::Type::kNumber;
    size_t start = pos_;
    if (s_[pos_] == '-')
      ++pos_;
    if (pos_ >= s_.size())
      return Fail("bad number");
    if (s_[pos_] == '0') {
      ++pos_;
    } else if (!Digits()) {
      return Fail("bad number");
    }
    bool integer = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      integer = false;
      if (!Digits())
        return Fail("bad fraction");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      integer = false;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-'))
        ++pos_;
      if (!Digits())
        return Fail("bad exponent");
    }
    std::string text(s_.substr(start, pos_ - start));
    v->double_ = strtod(text.c_str(), nullptr);
    if (integer) {
      errno = 0;
      long long n = strtoll(text.c_str(), nullptr, 10);
      if (errno == 0) {
        v->is_int_ = true;
        v->int_ = n;
      }
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
};

std::optional<Json> Json::Parse(std::string_view text, std::string* error) {
  JsonParser p(text);
  Json v;
  if (!p.ParseDocument(&v)) {
    if (error != nullptr)
      *error = p.error();
    return std::nullopt;
  }
  return v;
}

namespace {
const Json& MissingValue() {
  static const Json missing;
  return missing;
}
}  // namespace

const Json& Json::operator[](std::string_view key) const {
  for (const auto& [k, v] : members_) {
    if (k == key)
      return v;
  }
  return MissingValue();
}

const Json& Json::operator[](size_t i) const {
  return i < items_.size() ? items_[i] : MissingValue();
}

std::vector<std::string> Json::Keys() const {
  std::vector<std::string> keys;
  for (const auto& m : members_) keys.push_back(m.first);
  return keys;
}

int Json::Count(std::string_view key) const {
  int n = 0;
  for (const auto& m : members_) n += m.first == key;
  return n;
}

std::string Json::Str(std::string_view key) const {
  const Json& v = (*this)[key];
  return v.is_string() ? v.str() : std::string();
}

int64_t Json::Int(std::string_view key, int64_t dflt) const {
  const Json& v = (*this)[key];
  return v.is_int() ? v.as_int() : dflt;
}

std::ostream& operator<<(std::ostream& os, const Json& j) {
  return os << (j.missing() ? std::string("<missing>") : j.raw());
}

std::string JsonQuote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(char(c));
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(char(c));
    }
  }
  out.push_back('"');
  return out;
}

std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out = "{";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0)
      out.push_back(',');
    out += JsonQuote(members[i].first);
    out.push_back(':');
    out += members[i].second;
  }
  out.push_back('}');
  return out;
}

std::string JsonStringArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out.push_back(',');
    out += JsonQuote(items[i]);
  }
  out.push_back(']');
  return out;
}

}  // namespace longlink::test
