// Router: a short list of routes scanned linearly (the server registers about
// a dozen, so a scan beats any tree). The path picks one pattern, the most
// specific that matches: an exact path over any prefix, a longer prefix over a
// shorter one. Then the method picks a route of that pattern (HEAD falls back
// to GET); if none, the answer is 405 with that pattern's methods as Allow.
// A less specific pattern is never tried for the method, so POST-only
// "/api/publish" answers GET with 405 even when "/*" serves GET.
#include "http/router.h"

#include <cstdint>

#include "base/assert.h"

namespace longlink::http {

namespace {

// Order of the methods in an Allow value.
constexpr Method kAllowOrder[] = {Method::kGet, Method::kHead,   Method::kPost,
                                  Method::kPut, Method::kDelete, Method::kOptions};

const char* MethodName(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      break;
  }
  return nullptr;
}

unsigned Bit(Method m) {
  return 1u << static_cast<unsigned>(m);
}

// How specifically a pattern matches `path`: 0 if it does not, SIZE_MAX for
// an exact path, 1 + the prefix length for a prefix.
size_t Rank(std::string_view pattern, bool prefix, std::string_view path) {
  if (prefix)
    return path.substr(0, pattern.size()) == pattern ? 1 + pattern.size() : 0;
  return path == pattern ? SIZE_MAX : 0;
}

}  // namespace

void Router::Add(Method method, std::string_view path, int id) {
  LL_CHECK(id >= 0);
  Route r;
  r.method = method;
  r.prefix = !path.empty() && path.back() == '*';
  r.path = std::string(r.prefix ? path.substr(0, path.size() - 1) : path);
  r.id = id;
  routes_.push_back(std::move(r));
}

Router::Match Router::Find(Method method, std::string_view path) const {
  Match m;
  // Pass 1: the most specific pattern that matches the path.
  size_t best_rank = 0;  // 0: none
  for (const Route& r : routes_) {
    size_t rank = Rank(r.path, r.prefix, path);
    if (rank > best_rank)
      best_rank = rank;
  }
  if (best_rank == 0)
    return m;  // kNotFound
  // Pass 2: the routes of that pattern (equal rank means the same pattern).
  const Route* get = nullptr;
  unsigned allowed = 0;
  for (const Route& r : routes_) {
    if (Rank(r.path, r.prefix, path) != best_rank)
      continue;
    if (r.method == method) {
      m.id = r.id;
      return m;
    }
    if (r.method == Method::kGet && get == nullptr)
      get = &r;
    allowed |= Bit(r.method);
  }
  if (method == Method::kHead && get != nullptr) {
    m.id = get->id;
    return m;
  }
  if (allowed & Bit(Method::kGet))
    allowed |= Bit(Method::kHead);
  m.id = kMethodNotAllowed;
  for (Method a : kAllowOrder) {
    if (!(allowed & Bit(a)))
      continue;
    if (!m.allow.empty())
      m.allow.append(", ");
    m.allow.append(MethodName(a));
  }
  return m;
}

}  // namespace longlink::http
