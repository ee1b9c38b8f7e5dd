// HTTP API set-up calls; see http_setup.h. One request per connection
// ("Connection: close"), read until the server closes; 30 s socket timeouts.
#include "imload/http_setup.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace longlink::imload {

namespace {

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    off += size_t(n);
  }
  return true;
}

}  // namespace

int HttpPost(const std::string& host, int port, const std::string& path, const std::string& api_key,
             const std::string& body, std::string* response) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "imload: not an IPv4 address: %s\n", host.c_str());
    return 0;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::fprintf(stderr, "imload: connect %s:%d: %s\n", host.c_str(), port, std::strerror(errno));
    close(fd);
    return 0;
  }
  std::string req =
      "POST " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
      "\r\nAuthorization: Bearer " + api_key +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  std::string in;
  if (WriteAll(fd, req)) {
    char buf[16384];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      in.append(buf, size_t(n));
      // Stop once the head and Content-Length bytes of body are in.
      size_t end = in.find("\r\n\r\n");
      size_t cl = in.find("Content-Length:");
      if (cl == std::string::npos)
        cl = in.find("content-length:");
      if (end != std::string::npos && cl != std::string::npos && cl < end &&
          in.size() >= end + 4 + std::strtoul(in.c_str() + cl + 15, nullptr, 10)) {
        break;
      }
    }
  }
  close(fd);
  if (in.compare(0, 9, "HTTP/1.1 ") != 0 || in.size() < 12)
    return 0;
  size_t end = in.find("\r\n\r\n");
  *response = end == std::string::npos ? std::string() : in.substr(end + 4);
  return std::atoi(in.c_str() + 9);
}

bool CreateGroup(const std::string& host, int port, const std::string& api_key,
                 const std::string& name, const std::vector<std::string>& members) {
  std::string body = "{\"group\":\"" + name + "\",\"members\":[";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i)
      body += ',';
    body += '"' + members[i] + '"';
  }
  body += "],\"open\":false}";
  std::string response;
  int status = HttpPost(host, port, "/api/groups", api_key, body, &response);
  if (status != 200) {
    std::fprintf(stderr, "imload: POST /api/groups answered %d: %s\n", status, response.c_str());
    return false;
  }
  return true;
}

}  // namespace longlink::imload
