// PROTOCOL.md section 2 under --auth jwt: HS256 tokens with sub and exp,
// what makes a hello unauthorized, and `longlink token`.
#include <string>

#include <doctest/doctest.h>

#include "support/im_client.h"
#include "support/jwt.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

constexpr std::string_view kHs256 = R"({"alg":"HS256","typ":"JWT"})";

std::string Claims(std::string_view sub, int64_t exp) {
  return "{\"sub\":" + JsonQuote(sub) + ",\"exp\":" + std::to_string(exp) + "}";
}

// Sends a token hello (id 7) and expects error unauthorized with id 7, then close 4001.
void ExpectUnauthorized(uint16_t port, const std::string& token) {
  INFO("token: " << token);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(port), c.error());
  REQUIRE(c.Send(TokenHelloFrame(token, "phone", 7)));
  Json e = MustNext(c);
  CheckError(e, "unauthorized", 7);
  CHECK(c.WaitClose() == 4001);
}

TEST_CASE("msg: a valid HS256 token names the user by its sub") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.LoginToken(srv.port(), MintToken(kJwtSecret, "alice"), "phone"), c.error());
  CHECK(c.welcome().Str("user") == "alice");
  CHECK(c.welcome().Str("device") == "phone");
  CHECK(c.welcome().Int("id") == 1);
  // And the session works as alice.
  ImClient b;
  REQUIRE_MESSAGE(b.LoginToken(srv.port(), MintToken(kJwtSecret, "bob")), b.error());
  CHECK(b.welcome().Str("device") == "default");
  MustSend(c, "u:bob", "c1");
  Json m = MustPush(b, "d:alice:bob");
  CHECK(m.Str("from") == "alice");
}

TEST_CASE("msg: under --auth jwt the hello's user member is ignored") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
  std::string hello = R"({"t":"hello","v":1,"user":"mallory","token":")" +
                      MintToken(kJwtSecret, "alice") + R"(","device":"phone","id":1})";
  REQUIRE_MESSAGE(c.Hello(hello), c.error());
  CHECK(c.welcome().Str("user") == "alice");
}

TEST_CASE("msg: under --auth jwt a hello with only a user member gets unauthorized and 4001") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
  REQUIRE(c.Send(HelloFrame("alice", "phone", 7)));
  CheckError(MustNext(c), "unauthorized", 7);
  CHECK(c.WaitClose() == 4001);
}

TEST_CASE("msg: a token expired beyond the 60 s leeway gets unauthorized and close 4001") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  ExpectUnauthorized(srv.port(), MintToken(kJwtSecret, "alice", -120));
  ExpectUnauthorized(srv.port(), MintToken(kJwtSecret, "alice", -86400));
}

TEST_CASE("msg: a token with a wrong signature gets unauthorized and close 4001") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  ExpectUnauthorized(srv.port(), MintToken("another-secret", "alice"));
  // A valid token with its payload swapped for another user's.
  std::string good = MintToken(kJwtSecret, "alice");
  std::string forged = good.substr(0, good.find('.') + 1) +
                       Base64Url(Claims("bob", UnixSeconds() + 3600)) +
                       good.substr(good.rfind('.'));
  ExpectUnauthorized(srv.port(), forged);
  // Truncated signature, and no signature part at all.
  ExpectUnauthorized(srv.port(), good.substr(0, good.size() - 4));
  ExpectUnauthorized(srv.port(), good.substr(0, good.rfind('.')));
  ExpectUnauthorized(srv.port(), "not-a-jwt");
}

TEST_CASE("msg: a token with alg none gets unauthorized and close 4001") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  std::string claims = Claims("alice", UnixSeconds() + 3600);
  std::string none = Base64Url(R"({"alg":"none","typ":"JWT"})") + "." + Base64Url(claims) + ".";
  ExpectUnauthorized(srv.port(), none);
  // Also with an HS256 signature appended, and with another HMAC alg.
  ExpectUnauthorized(srv.port(), MintJwt(kJwtSecret, R"({"alg":"none","typ":"JWT"})", claims));
  ExpectUnauthorized(srv.port(), MintJwt(kJwtSecret, R"({"alg":"HS512","typ":"JWT"})", claims));
  ExpectUnauthorized(srv.port(), MintJwt(kJwtSecret, R"({"typ":"JWT"})", claims));
}

TEST_CASE("msg: a token without exp gets unauthorized and close 4001") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  ExpectUnauthorized(srv.port(), MintJwt(kJwtSecret, kHs256, R"({"sub":"alice"})"));
  ExpectUnauthorized(srv.port(), MintJwt(kJwtSecret, kHs256, R"({"sub":"alice","exp":"soon"})"));
}

TEST_CASE("msg: a token whose sub is missing or outside the id grammar gets unauthorized") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  int64_t exp = UnixSeconds() + 3600;
  ExpectUnauthorized(srv.port(), MintJwt(kJwtSecret, kHs256, Claims("al ice", exp)));
  ExpectUnauthorized(srv.port(), MintJwt(kJwtSecret, kHs256, Claims(std::string(65, 'a'), exp)));
  ExpectUnauthorized(srv.port(), MintJwt(kJwtSecret, kHs256, Claims("", exp)));
  ExpectUnauthorized(srv.port(),
                     MintJwt(kJwtSecret, kHs256, "{\"exp\":" + std::to_string(exp) + "}"));
}

TEST_CASE("msg: a hello without token under --auth jwt gets unauthorized and close 4001") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
  REQUIRE(c.Send(R"({"t":"hello","v":1,"device":"phone","id":7})"));
  CheckError(MustNext(c), "unauthorized", 7);
  CHECK(c.WaitClose() == 4001);
}

TEST_CASE("msg: longlink token prints one line, a JWT the server accepts") {
  Secrets s;
  RunResult r = RunBinary(
      {"token", "--user", "carol", "--ttl", "1h", "--jwt-secret-file", s.jwt_secret_file()});
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code() == 0);
  CHECK(CountLines(r.out) == 1);
  REQUIRE(!r.out.empty());
  CHECK(r.out.back() == '\n');
  std::string token = r.out.substr(0, r.out.find('\n'));
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  REQUIRE(d1 != std::string::npos);
  REQUIRE(d2 != d1);
  std::optional<Json> header = Json::Parse(Base64UrlDecode(token.substr(0, d1)));
  std::optional<Json> claims = Json::Parse(Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1)));
  REQUIRE(header);
  REQUIRE(claims);
  CHECK(header->Str("alg") == "HS256");
  CHECK(claims->Str("sub") == "carol");
  CHECK(std::llabs(claims->Int("exp") - (UnixSeconds() + 3600)) <= 120);
  CHECK(Base64Url(HmacSha256(kJwtSecret, token.substr(0, d2))) == token.substr(d2 + 1));

  Server srv(JwtArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.LoginToken(srv.port(), token, "phone"), c.error());
  CHECK(c.welcome().Str("user") == "carol");
}

TEST_CASE("msg: longlink token honours --ttl in minutes and days") {
  Secrets s;
  for (auto [ttl, seconds] : {std::pair<const char*, int64_t>{"30m", 1800}, {"2d", 172800}}) {
    INFO("--ttl " << std::string(ttl));
    RunResult r = RunBinary(
        {"token", "--user", "dave", "--ttl", ttl, "--jwt-secret-file", s.jwt_secret_file()});
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code() == 0);
    CHECK(CountLines(r.out) == 1);
    std::string token = r.out.substr(0, r.out.find('\n'));
    size_t d1 = token.find('.'), d2 = token.rfind('.');
    REQUIRE(d1 != std::string::npos);
    std::optional<Json> claims = Json::Parse(Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1)));
    REQUIRE(claims);
    CHECK(claims->Str("sub") == "dave");
    CHECK(std::llabs(claims->Int("exp") - (UnixSeconds() + seconds)) <= 120);
  }
}

}  // namespace
}  // namespace longlink::test
