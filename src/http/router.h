// Router: maps a request's method and path to a route id. Exact paths and
// path prefixes ("/api/"); a path that exists with another method gives 405
// with the Allow header value. The router knows nothing of what routes do:
// the server layer (net/) switches on the id.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.h"

namespace longlink::http {

class Router {
 public:
  static constexpr int kNotFound = -1;
  static constexpr int kMethodNotAllowed = -2;

  // Registers `id` (>= 0) for `method` on `path`. A path ending in '*' is a
  // prefix: "/api/*" matches "/api/x/y". HEAD matches GET routes.
  void Add(Method method, std::string_view path, int id);

  struct Match {
    int id = kNotFound;
    std::string allow;  // for kMethodNotAllowed: e.g. "GET, HEAD"
  };
  Match Find(Method method, std::string_view path) const;

 private:
  struct Route {
    Method method;
    std::string path;
    bool prefix;
    int id;
  };
  std::vector<Route> routes_;
};

}  // namespace longlink::http
