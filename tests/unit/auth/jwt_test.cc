// Tests of HS256 JWT verification and signing. Literal tokens come from
// outside this code base (jwt.io's example, RFC 7515 appendix A.1, and tokens
// built by hand with Python's hmac, hashlib and base64 modules), so the
// verifier is not only checked against our own signer. Hostile tokens that
// need a valid signature are built with SignRawHs256.
#include "auth/jwt.h"

#include <string>

#include <doctest/doctest.h>

namespace longlink::auth {
namespace {

const std::string kSecret = "longlink-test-secret";
constexpr int64_t kNow = 1800000000;
constexpr int64_t kFarExp = 2000000000;
const std::string kHeader = R"({"alg":"HS256","typ":"JWT"})";

// Python: header {"alg":"HS256","typ":"JWT"}, payload
// {"sub":"alice","iat":1700000000,"exp":2000000000}, key kSecret.
const std::string kPythonToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoyMDAwMDAwMDAwfQ."
    "HDZ8Y45zPq-9zu2CUsVr_VTMo5iCak9jh5QBVkYEx1k";

// Signs `payload` under the standard header with kSecret.
std::string Signed(const std::string& payload) {
  return SignRawHs256(kHeader, payload, kSecret);
}

JwtError Verify(const std::string& token, int64_t now = kNow) {
  Claims claims;
  return VerifyHs256(token, kSecret, now, &claims);
}

// The token split at its dots.
struct Parts {
  explicit Parts(const std::string& token) {
    size_t d1 = token.find('.');
    size_t d2 = token.find('.', d1 + 1);
    header = token.substr(0, d1);
    payload = token.substr(d1 + 1, d2 - d1 - 1);
    signature = token.substr(d2 + 1);
  }
  std::string Join() const { return header + "." + payload + "." + signature; }
  std::string header, payload, signature;
};

TEST_CASE("base64url: encodes the RFC 4648 vectors without padding") {
  CHECK(Base64UrlEncode("") == "");
  CHECK(Base64UrlEncode("f") == "Zg");
  CHECK(Base64UrlEncode("fo") == "Zm8");
  CHECK(Base64UrlEncode("foo") == "Zm9v");
  CHECK(Base64UrlEncode("foob") == "Zm9vYg");
  CHECK(Base64UrlEncode("fooba") == "Zm9vYmE");
  CHECK(Base64UrlEncode("foobar") == "Zm9vYmFy");
  CHECK(Base64UrlEncode("\xfb\xff\xbf") == "-_-_");  // '+' and '/' in standard base64.
}

TEST_CASE("base64url: decodes what it encodes for every length and byte value") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); ++len) {
    std::string in = all.substr(all.size() - len), out;
    REQUIRE(Base64UrlDecode(Base64UrlEncode(in), &out));
    CHECK(out == in);
  }
}

TEST_CASE("base64url: rejects padding, foreign characters and impossible lengths") {
  std::string out;
  CHECK(Base64UrlDecode("Zm9vYg", &out));
  CHECK(out == "foob");
  CHECK_FALSE(Base64UrlDecode("Zm9vYg==", &out));
  CHECK_FALSE(Base64UrlDecode("Zg=", &out));
  CHECK_FALSE(Base64UrlDecode("+_8", &out));  // Standard alphabet.
  CHECK_FALSE(Base64UrlDecode("-/8", &out));
  CHECK_FALSE(Base64UrlDecode("Zm9v Yg", &out));
  CHECK_FALSE(Base64UrlDecode("Zm9v\nYg", &out));
  CHECK_FALSE(Base64UrlDecode("Zm9vY", &out));  // 4n+1 characters.
  CHECK_FALSE(Base64UrlDecode(std::string("Zm\0v", 4), &out));
}

TEST_CASE("base64url: rejects non-zero unused bits so each encoding is unique") {
  std::string out;
  CHECK(Base64UrlDecode("Zg", &out));
  CHECK_FALSE(Base64UrlDecode("Zh", &out));
  CHECK(Base64UrlDecode("Zm8", &out));
  CHECK_FALSE(Base64UrlDecode("Zm9", &out));
}

TEST_CASE("jwt: accepts a token built by hand with Python") {
  Claims claims;
  REQUIRE(VerifyHs256(kPythonToken, kSecret, kNow, &claims) == JwtError::kOk);
  CHECK(claims.sub == "alice");
  CHECK(claims.exp == kFarExp);
  CHECK(claims.iat == 1700000000);
}

TEST_CASE("jwt: signer output matches Python byte for byte") {
  CHECK(SignHs256("alice", kFarExp, 1700000000, kSecret) == kPythonToken);
  // sub = a"b\c<LF><U+1F600>, escaped as "a\"b\\c\u000a" plus the raw UTF-8.
  CHECK(SignHs256("a\"b\\c\n\xf0\x9f\x98\x80", kFarExp, 1, kSecret) ==
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiJhXCJiXFxjXHUwMDBh8J-YgCIsImlhdCI6MSwiZXhwIjoyMDAwMDAwMDAwfQ."
        "fJKAgBJl2CJGHd7m9XsGUyJhA4oB_BZtXKZ47_OpYD4");
}

TEST_CASE("jwt: reads spaced JSON, any key order, escaped sub and nested claims") {
  // Python: header { "typ" : "JWT", "alg" : "HS256" }, payload
  // {"exp": 2000000000, "sub": "al\u0069ce", "iat": 1700000000,
  //  "scope": ["chat", {"x": null}]}, key kSecret.
  const std::string token =
      "eyAidHlwIiA6ICJKV1QiLCAiYWxnIiA6ICJIUzI1NiIgfQ."
      "eyJleHAiOiAyMDAwMDAwMDAwLCAic3ViIjogImFsXHUwMDY5Y2UiLCAiaWF0IjogMTcwMDAwMDAwMCwgInNjb3BlIjog"
      "WyJjaGF0IiwgeyJ4IjogbnVsbH1dfQ."
      "1sw7ttjGCW1aW3_dCtM0TuhlqtP1uar8USokekQRcXw";
  Claims claims;
  REQUIRE(VerifyHs256(token, kSecret, kNow, &claims) == JwtError::kOk);
  CHECK(claims.sub == "alice");
  CHECK(claims.exp == kFarExp);
}

TEST_CASE("jwt: jwt.io example passes the signature check but has no exp") {
  const std::string token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
      "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  CHECK(VerifyHs256(token, "your-256-bit-secret", kNow, nullptr) == JwtError::kNoExp);
  CHECK(VerifyHs256(token, "your-256-bit-secreT", kNow, nullptr) == JwtError::kBadSignature);
}

TEST_CASE("jwt: RFC 7515 A.1 example passes the signature check but has no sub") {
  // Binary key from the RFC's JWK "k"; header and payload contain CR LF.
  std::string key;
  REQUIRE(Base64UrlDecode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
      &key));
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ."
      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  CHECK(VerifyHs256(token, key, 1300819380, nullptr) == JwtError::kBadSub);
  key[0] ^= 1;
  CHECK(VerifyHs256(token, key, 1300819380, nullptr) == JwtError::kBadSignature);
}

TEST_CASE("jwt: round trip from SignHs256 to VerifyHs256 keeps the claims") {
  for (std::string sub : {"bob", "user.name@example-1_x", "\xc5\xbc\xc3\xb3\xc5\x82w", ""}) {
    Claims claims;
    REQUIRE(VerifyHs256(SignHs256(sub, kNow + 3600, kNow, kSecret), kSecret, kNow, &claims) ==
            JwtError::kOk);
    CHECK(claims.sub == sub);
    CHECK(claims.exp == kNow + 3600);
    CHECK(claims.iat == kNow);
  }
}

TEST_CASE("jwt: round trip keeps a sub with quotes, backslashes and control bytes") {
  const std::string sub = std::string("q\"b\\s/\x01\x1f\t\0z", 10);
  Claims claims;
  REQUIRE(VerifyHs256(SignHs256(sub, kFarExp, 0, kSecret), kSecret, kNow, &claims) ==
          JwtError::kOk);
  CHECK(claims.sub == sub);
}

TEST_CASE("jwt: decodes surrogate pair escapes to UTF-8") {
  Claims claims;
  REQUIRE(VerifyHs256(Signed(R"({"sub":"\ud83d\ude00\u00e9\u4E2D","exp":2000000000})"), kSecret,
                      kNow, &claims) == JwtError::kOk);
  CHECK(claims.sub == "\xf0\x9f\x98\x80\xc3\xa9\xe4\xb8\xad");
}

TEST_CASE("jwt: rejects a token expired beyond the 60 s leeway") {
  std::string token = SignHs256("alice", kNow, 0, kSecret);
  CHECK(Verify(token, kNow + 61) == JwtError::kExpired);
  CHECK(Verify(token, kNow + 100000) == JwtError::kExpired);
  CHECK(Verify(SignHs256("alice", -5, 0, kSecret), kNow) == JwtError::kExpired);
}

TEST_CASE("jwt: accepts a token expired within the 60 s leeway") {
  std::string token = SignHs256("alice", kNow, 0, kSecret);
  CHECK(Verify(token, kNow) == JwtError::kOk);
  CHECK(Verify(token, kNow + 1) == JwtError::kOk);
  CHECK(Verify(token, kNow + 60) == JwtError::kOk);
}

TEST_CASE("jwt: exp near INT64_MAX does not overflow and never expires") {
  CHECK(Verify(Signed(R"({"sub":"a","exp":9223372036854775807})"), INT64_MAX) == JwtError::kOk);
  // INT64_MAX - 60 is still valid at INT64_MAX; one second earlier is not.
  CHECK(Verify(Signed(R"({"sub":"a","exp":9223372036854775747})"), INT64_MAX) == JwtError::kOk);
  CHECK(Verify(Signed(R"({"sub":"a","exp":9223372036854775746})"), INT64_MAX) ==
        JwtError::kExpired);
  CHECK(Verify(Signed(R"({"sub":"a","exp":-9223372036854775808})"), kNow) == JwtError::kExpired);
}

TEST_CASE("jwt: rejects a missing exp") {
  CHECK(Verify(Signed(R"({"sub":"alice"})")) == JwtError::kNoExp);
  CHECK(Verify(Signed(R"({"sub":"alice","exp_":1})")) == JwtError::kNoExp);
}

// RFC 7519 2: a NumericDate may have a fraction (PyJWT writes a float exp
// as given, e.g. time.time() + 3600); it counts rounded down.
TEST_CASE("jwt: exp is a NumericDate: a fraction or exponent counts, rounded down") {
  CHECK(Verify(Signed(R"({"sub":"alice","exp":2000000000.5})")) == JwtError::kOk);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":2000000000.0})")) == JwtError::kOk);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":2e9})")) == JwtError::kOk);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":2.0E+9})")) == JwtError::kOk);
  const std::string at = std::to_string(kNow) + ".9";
  CHECK(Verify(Signed(R"({"sub":"a","exp":)" + at + "}"), kNow + 60) == JwtError::kOk);
  CHECK(Verify(Signed(R"({"sub":"a","exp":)" + at + "}"), kNow + 61) == JwtError::kExpired);
  CHECK(Verify(Signed(R"({"sub":"a","exp":-0.5})"), kNow) == JwtError::kExpired);
  Claims claims;
  REQUIRE(VerifyHs256(Signed(R"({"sub":"a","exp":2000000000.75})"), kSecret, kNow, &claims) ==
          JwtError::kOk);
  CHECK(claims.exp == 2000000000);
}

TEST_CASE("jwt: rejects an exp that is not a number within int64") {
  CHECK(Verify(Signed(R"({"sub":"alice","exp":"2000000000"})")) == JwtError::kNoExp);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":null})")) == JwtError::kNoExp);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":true})")) == JwtError::kNoExp);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":[2000000000]})")) == JwtError::kNoExp);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":9223372036854775808})")) == JwtError::kNoExp);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":1e19})")) == JwtError::kNoExp);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":-1e19})")) == JwtError::kNoExp);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":1e400})")) == JwtError::kNoExp);
}

TEST_CASE("jwt: ignores an iat that is not a number") {
  Claims claims;
  REQUIRE(VerifyHs256(Signed(R"({"sub":"a","exp":2000000000,"iat":"1"})"), kSecret, kNow,
                      &claims) == JwtError::kOk);
  CHECK(claims.iat == 0);
  REQUIRE(VerifyHs256(Signed(R"({"sub":"a","exp":2000000000,"iat":1.5})"), kSecret, kNow,
                      &claims) == JwtError::kOk);
  CHECK(claims.iat == 1);
}

TEST_CASE("jwt: rejects a missing sub") {
  CHECK(Verify(Signed(R"({"exp":2000000000})")) == JwtError::kBadSub);
  CHECK(Verify(Signed(R"({})")) == JwtError::kBadSub);
}

TEST_CASE("jwt: rejects a sub that is not a string") {
  CHECK(Verify(Signed(R"({"sub":42,"exp":2000000000})")) == JwtError::kBadSub);
  CHECK(Verify(Signed(R"({"sub":null,"exp":2000000000})")) == JwtError::kBadSub);
  CHECK(Verify(Signed(R"({"sub":["alice"],"exp":2000000000})")) == JwtError::kBadSub);
  CHECK(Verify(Signed(R"({"sub":{"id":"alice"},"exp":2000000000})")) == JwtError::kBadSub);
}

TEST_CASE("jwt: rejects alg HS512 and RS256 even with an HS256 signature") {
  const std::string payload = R"({"sub":"alice","exp":2000000000})";
  CHECK(Verify(SignRawHs256(R"({"alg":"HS512","typ":"JWT"})", payload, kSecret)) ==
        JwtError::kBadAlg);
  CHECK(Verify(SignRawHs256(R"({"alg":"RS256","typ":"JWT"})", payload, kSecret)) ==
        JwtError::kBadAlg);
}

TEST_CASE("jwt: rejects alg none with an empty signature") {
  std::string token = Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
                      Base64UrlEncode(R"({"sub":"alice","exp":2000000000})") + ".";
  CHECK(Verify(token) == JwtError::kBadAlg);
  // Also with the signature of an honest token left in place.
  Parts parts(SignRawHs256(R"({"alg":"none"})", R"({"sub":"alice","exp":2000000000})", kSecret));
  CHECK(Verify(parts.Join()) == JwtError::kBadAlg);
}

TEST_CASE("jwt: rejects a missing, misspelt or non-string alg") {
  const std::string payload = R"({"sub":"alice","exp":2000000000})";
  for (const char* header :
       {R"({"typ":"JWT"})", R"({})", R"({"alg":"hs256"})", R"({"alg":"HS256 "})", R"({"alg":null})",
        R"({"alg":["HS256"]})", R"({"ALG":"HS256"})"}) {
    CAPTURE(header);
    CHECK(Verify(SignRawHs256(header, payload, kSecret)) == JwtError::kBadAlg);
  }
}

TEST_CASE("jwt: rejects a crit header") {
  CHECK(Verify(SignRawHs256(R"({"alg":"HS256","b64":false,"crit":["b64"]})",
                            R"({"sub":"alice","exp":2000000000})", kSecret)) == JwtError::kBadAlg);
}

TEST_CASE("jwt: reads alg through JSON escapes and accepts any or no typ") {
  const std::string payload = R"({"sub":"alice","exp":2000000000})";
  CHECK(Verify(SignRawHs256(R"({"\u0061lg":"HS\u0032\u00356"})", payload, kSecret)) ==
        JwtError::kOk);
  CHECK(Verify(SignRawHs256(R"({"alg":"HS256"})", payload, kSecret)) == JwtError::kOk);
  CHECK(Verify(SignRawHs256(R"({"alg":"HS256","typ":"at+jwt"})", payload, kSecret)) ==
        JwtError::kOk);
}

TEST_CASE("jwt: rejects a tampered payload") {
  Parts parts(kPythonToken);
  parts.payload = Base64UrlEncode(R"({"sub":"mallory","iat":1700000000,"exp":2000000000})");
  CHECK(Verify(parts.Join()) == JwtError::kBadSignature);
}

TEST_CASE("jwt: rejects a tampered signature") {
  Parts parts(kPythonToken);
  parts.signature[10] = parts.signature[10] == 'A' ? 'B' : 'A';
  CHECK(Verify(parts.Join()) == JwtError::kBadSignature);
  parts = Parts(kPythonToken);
  parts.signature.pop_back();  // 40 characters: 30 bytes.
  parts.signature.pop_back();
  parts.signature.pop_back();
  CHECK(Verify(parts.Join()) == JwtError::kBadSignature);
  parts.signature = "";
  CHECK(Verify(parts.Join()) == JwtError::kBadSignature);
  parts.signature = Parts(kPythonToken).signature + "AAAA";  // 35 bytes.
  CHECK(Verify(parts.Join()) == JwtError::kBadSignature);
}

TEST_CASE("jwt: rejects a signature that differs only in its first or last byte") {
  Parts parts(kPythonToken);
  std::string mac;
  REQUIRE(Base64UrlDecode(parts.signature, &mac));
  REQUIRE(mac.size() == 32);
  for (size_t i : {size_t{0}, size_t{31}}) {
    std::string bad = mac;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    parts.signature = Base64UrlEncode(bad);
    CAPTURE(i);
    CHECK(Verify(parts.Join()) == JwtError::kBadSignature);
  }
}

TEST_CASE("jwt: rejects a token signed with another secret") {
  CHECK(VerifyHs256(kPythonToken, "longlink-test-secreT", kNow, nullptr) ==
        JwtError::kBadSignature);
  CHECK(VerifyHs256(kPythonToken, kSecret + "x", kNow, nullptr) == JwtError::kBadSignature);
}

TEST_CASE("jwt: an empty secret never verifies") {
  // Python: the kPythonToken claims signed with an empty key.
  const std::string token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoyMDAwMDAwMDAwfQ."
      "aH05DfpJpvmdmdDKmQVpGtiWPeGMSHD-mKUBnQ6PRlI";
  CHECK(VerifyHs256(token, "", kNow, nullptr) == JwtError::kBadSignature);
  CHECK(SignHs256("alice", kFarExp, 1700000000, "") == token);
}

TEST_CASE("jwt: rejects the wrong number of segments") {
  Parts parts(kPythonToken);
  CHECK(Verify("") == JwtError::kMalformed);
  CHECK(Verify("..") == JwtError::kMalformed);
  CHECK(Verify(parts.header) == JwtError::kMalformed);
  CHECK(Verify(parts.header + "." + parts.payload) == JwtError::kMalformed);
  CHECK(Verify(kPythonToken + ".") == JwtError::kMalformed);
  CHECK(Verify(kPythonToken + "." + parts.signature) == JwtError::kMalformed);
}

TEST_CASE("jwt: rejects bad base64url characters in any segment") {
  for (int segment = 0; segment < 3; ++segment) {
    for (char bad : {'+', '/', ' ', '=', '\0', '\x80'}) {
      Parts parts(kPythonToken);
      std::string* s =
          segment == 0 ? &parts.header : (segment == 1 ? &parts.payload : &parts.signature);
      (*s)[4] = bad;
      CAPTURE(segment);
      CAPTURE(static_cast<int>(bad));
      CHECK(Verify(parts.Join()) == JwtError::kMalformed);
    }
  }
}

TEST_CASE("jwt: rejects base64 padding") {
  Parts parts(kPythonToken);
  parts.signature += "=";  // 43 + 1 characters, as standard base64 would pad.
  CHECK(Verify(parts.Join()) == JwtError::kMalformed);
  // {"alg":"HS256"} encodes to 20 characters + "==" in padded base64.
  std::string token =
      SignRawHs256(R"({"alg":"HS256"})", R"({"sub":"a","exp":2000000000})", kSecret);
  Parts padded(token);
  REQUIRE(padded.header.size() % 4 == 0);
  CHECK(Verify(token) == JwtError::kOk);
  std::string payload = Base64UrlEncode(R"({"sub":"a","exp":2000000000})");
  CHECK(payload.size() % 4 != 0);
  padded.payload = payload + std::string(4 - payload.size() % 4, '=');
  CHECK(Verify(padded.Join()) == JwtError::kMalformed);
}

TEST_CASE("jwt: rejects a header that is not JSON") {
  const std::string payload = R"({"sub":"alice","exp":2000000000})";
  for (const char* header :
       {"", "alg=HS256", R"({"alg":"HS256")", R"({"alg":"HS256",})", R"({alg:"HS256"})",
        R"({'alg':'HS256'})", R"(["alg","HS256"])", R"("HS256")", R"({"alg":"HS256"}x)",
        R"({"alg":"HS256"}{})", "\xef\xbb\xbf{\"alg\":\"HS256\"}"}) {
    CAPTURE(header);
    CHECK(Verify(SignRawHs256(header, payload, kSecret)) == JwtError::kMalformed);
  }
}

TEST_CASE("jwt: rejects a payload that is a JSON array or not JSON") {
  for (const char* payload :
       {R"(["sub","alice","exp",2000000000])", R"("alice")", "2000000000", "null", "",
        R"({"sub":"alice","exp":2000000000)", R"({"sub":"alice" "exp":2000000000})",
        R"({"sub":"alice","exp":02000000000})", R"({"sub":"alice","exp":+1})",
        R"({"sub":"alice","exp":1.})", R"({"sub":"alice","exp":1e})",
        R"({"sub":"alice","exp":tru})", R"({"sub":"alice","exp":2000000000,"x":[1,]})"}) {
    CAPTURE(payload);
    CHECK(Verify(Signed(payload)) == JwtError::kMalformed);
  }
}

TEST_CASE("jwt: rejects duplicate keys, also when spelt with escapes") {
  CHECK(Verify(Signed(R"({"sub":"alice","sub":"mallory","exp":2000000000})")) ==
        JwtError::kMalformed);
  CHECK(Verify(Signed(R"({"sub":"alice","s\u0075b":"mallory","exp":2000000000})")) ==
        JwtError::kMalformed);
  CHECK(Verify(Signed(R"({"sub":"alice","exp":1,"exp":2000000000})")) == JwtError::kMalformed);
  CHECK(Verify(SignRawHs256(R"({"alg":"none","alg":"HS256"})", R"({"sub":"a","exp":2000000000})",
                            kSecret)) == JwtError::kMalformed);
}

TEST_CASE("jwt: rejects bad string contents in the JSON") {
  for (const char* payload : {
           "{\"sub\":\"ali\nce\",\"exp\":2000000000}",       // Raw control byte.
           R"({"sub":"\ud83d","exp":2000000000})",           // Lone high surrogate.
           R"({"sub":"\ude00","exp":2000000000})",           // Lone low surrogate.
           R"({"sub":"\ud83d\u0041","exp":2000000000})",     // High, then not low.
           R"({"sub":"\x41","exp":2000000000})",             // Unknown escape.
           R"({"sub":"\u12G4","exp":2000000000})",           // Bad hex digit.
           R"({"sub":"\u12","exp":2000000000})",             // Short \u.
           "{\"sub\":\"\xc0\xaf\",\"exp\":2000000000}",      // Overlong UTF-8.
           "{\"sub\":\"\xed\xa0\x80\",\"exp\":2000000000}",  // Raw surrogate.
           "{\"sub\":\"\xff\",\"exp\":2000000000}",          // Not UTF-8.
           "{\"sub\":\"\xe4\xb8\",\"exp\":2000000000}",      // Truncated sequence.
           R"({"sub":"alice)",                               // Unterminated string.
       }) {
    CAPTURE(payload);
    CHECK(Verify(Signed(payload)) == JwtError::kMalformed);
  }
}

TEST_CASE("jwt: bounds nesting depth") {
  std::string ok = R"({"sub":"a","exp":2000000000,"n":)";
  ok += std::string(32, '[') + std::string(32, ']') + "}";
  CHECK(Verify(Signed(ok)) == JwtError::kOk);
  std::string deep = R"({"sub":"a","exp":2000000000,"n":)";
  deep += std::string(33, '[') + std::string(33, ']') + "}";
  CHECK(Verify(Signed(deep)) == JwtError::kMalformed);
  std::string objects = R"({"sub":"a","exp":2000000000,"n":)";
  for (int i = 0; i < 32; ++i) objects += R"({"k":)";
  objects += "1" + std::string(32, '}') + "}";
  CHECK(Verify(Signed(objects)) == JwtError::kOk);
  objects = R"({"sub":"a","exp":2000000000,"n":)";
  for (int i = 0; i < 33; ++i) objects += R"({"k":)";
  objects += "1" + std::string(33, '}') + "}";
  CHECK(Verify(Signed(objects)) == JwtError::kMalformed);
  std::string huge = R"({"sub":"a","exp":2000000000,"n":)";
  huge += std::string(2000, '[') + std::string(2000, ']') + "}";
  CHECK(Verify(Signed(huge)) == JwtError::kMalformed);
}

TEST_CASE("jwt: refuses tokens longer than 8 KiB before decoding them") {
  // A valid token padded by an extra claim to exactly kMaxTokenBytes.
  auto with_filler = [](size_t n) {
    return Signed(R"({"sub":"alice","exp":2000000000,"f":")" + std::string(n, 'x') + "\"}");
  };
  size_t base = with_filler(0).size();
  size_t filler = (kMaxTokenBytes - base) * 3 / 4 - 4;
  while (with_filler(filler + 1).size() <= kMaxTokenBytes) ++filler;
  std::string largest = with_filler(filler);
  REQUIRE(largest.size() <= kMaxTokenBytes);
  CHECK(Verify(largest) == JwtError::kOk);
  std::string too_big = with_filler(filler + 1);
  REQUIRE(too_big.size() > kMaxTokenBytes);
  CHECK(Verify(too_big) == JwtError::kMalformed);
  CHECK(Verify(std::string(1 << 20, 'A')) == JwtError::kMalformed);
  CHECK(Verify(kPythonToken + std::string(kMaxTokenBytes, 'A')) == JwtError::kMalformed);
}

TEST_CASE("jwt: leaves claims untouched on failure and accepts a null out") {
  Claims claims{"before", 7, 8};
  CHECK(VerifyHs256(SignHs256("alice", kNow - 3600, 0, kSecret), kSecret, kNow, &claims) ==
        JwtError::kExpired);
  CHECK(claims.sub == "before");
  CHECK(claims.exp == 7);
  CHECK(claims.iat == 8);
  CHECK(VerifyHs256(kPythonToken, kSecret, kNow, nullptr) == JwtError::kOk);
}

TEST_CASE("jwt: names every error") {
  CHECK(JwtErrorName(JwtError::kOk) == "ok");
  CHECK(JwtErrorName(JwtError::kMalformed) == "malformed");
  CHECK(JwtErrorName(JwtError::kBadAlg) == "bad_alg");
  CHECK(JwtErrorName(JwtError::kBadSignature) == "bad_signature");
  CHECK(JwtErrorName(JwtError::kExpired) == "expired");
  CHECK(JwtErrorName(JwtError::kNoExp) == "no_exp");
  CHECK(JwtErrorName(JwtError::kBadSub) == "bad_sub");
}

}  // namespace
}  // namespace longlink::auth
