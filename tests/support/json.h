// Json: a small strict JSON reader (RFC 8259) for the messaging tests,
// written apart from the server's simdjson use so a shared misreading cannot
// pass. Every value keeps its exact source text (raw()), which lets tests
// compare a pushed `body` byte for byte with what was sent. Objects keep
// their members in order; a repeated key is kept twice and operator[]
// returns the first. Test-only: recursion is bounded at depth 256.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace longlink::test {

class Json {
 public:
  enum class Type { kMissing, kNull, kBool, kNumber, kString, kArray, kObject };

  // Parses one JSON text (surrounding whitespace allowed, nothing else).
  // nullopt on any syntax error, with the reason and offset in `error`.
  static std::optional<Json> Parse(std::string_view text, std::string* error = nullptr);

  Json() = default;  // kMissing

  Type type() const { return type_; }
  bool missing() const { return type_ == Type::kMissing; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }
  // A number written as an integer (no fraction or exponent) within int64.
  bool is_int() const { return is_int_; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return int_; }  // 0 unless is_int()
  double as_double() const { return double_; }
  const std::string& str() const { return str_; }  // decoded string value

  // Members of an object / items of an array (empty otherwise).
  const std::vector<std::pair<std::string, Json>>& members() const { return members_; }
  const std::vector<Json>& items() const { return items_; }
  size_t size() const { return is_object() ? members_.size() : items_.size(); }
  // The member `key` (the first one), or a kMissing value.
  const Json& operator[](std::string_view key) const;
  const Json& operator[](size_t i) const;
  bool Has(std::string_view key) const { return !(*this)[key].missing(); }
  std::vector<std::string> Keys() const;
  // How many members are named `key`.
  int Count(std::string_view key) const;

  // The exact source text of this value (no surrounding whitespace).
  const std::string& raw() const { return raw_; }

  // Convenience: the string member `key`, or "" (also when not a string).
  std::string Str(std::string_view key) const;
  // The integer member `key`, or `dflt` when absent or not an integer.
  int64_t Int(std::string_view key, int64_t dflt = -1) const;

 private:
  friend class JsonParser;
  Type type_ = Type::kMissing;
  bool bool_ = false;
  bool is_int_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string str_;
  std::vector<std::pair<std::string, Json>> members_;
  std::vector<Json> items_;
  std::string raw_;
};

std::ostream& operator<<(std::ostream& os, const Json& j);

// `s` as a JSON string literal, quotes included (escapes ", \ and control
// characters; other bytes are copied as they are).
std::string JsonQuote(std::string_view s);

// Builds a JSON object from already-encoded member values:
//   JsonObject({{"t", JsonQuote("send")}, {"id", "1"}}) == {"t":"send","id":1}
std::string JsonObject(const std::vector<std::pair<std::string, std::string>>& members);

// ["a","b"] from strings.
std::string JsonStringArray(const std::vector<std::string>& items);

}  // namespace longlink::test
