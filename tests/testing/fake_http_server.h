// testing/fake_http_server.h: FakeHttpServer, a scripted HTTP/1.1 server on 127.0.0.1:0 for
// tests of ringward's clients (the JWKS fetcher, the replication follower), and MakeCert, a
// fresh self-signed certificate for it.
//
// A real BoringSSL server when given a certificate, else plain TCP. Each connection gets a
// thread that completes the handshake, reads the request head, records it (with its time and
// the SNI name), and hands the connection to the test's script with the connection's index;
// the connection is closed when the script returns. Hold() keeps a script waiting (a peer that
// says nothing) until Release() or 20 s. Thread-safe.
#ifndef RINGWARD_TESTS_TESTING_FAKE_HTTP_SERVER_H_
#define RINGWARD_TESTS_TESTING_FAKE_HTTP_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "openssl/ssl.h"
#include "ringward/net/tls/self_signed.h"
#include "testing/temp_dir.h"

namespace ringward::test {

struct CertFiles {
  std::string cert;
  std::string key;
};

inline CertFiles MakeCert(const TempDir& dir, const std::string& name,
                          std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"}) {
  CertFiles files{dir.path() + "/" + name + ".crt", dir.path() + "/" + name + ".key"};
  tls::SelfSignedOptions options;
  options.subject_alt_names = std::move(names);
  const absl::Status status = tls::WriteSelfSignedCertificate(
      files.cert, files.key, std::chrono::system_clock::now(), options);
  EXPECT_TRUE(status.ok()) << status;
  return files;
}

class FakeHttpServer {
 public:
  class Conn {
   public:
    Conn(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {}
    bool Write(std::string_view bytes) {
      while (!bytes.empty()) {
        const int n = ssl_ != nullptr
                          ? SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()))
                          : static_cast<int>(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL));
        if (n <= 0) {
          return false;
        }
        bytes.remove_prefix(static_cast<size_t>(n));
      }
      return true;
    }

   private:
    SSL* ssl_;
    int fd_;
  };
  using Script = std::function<void(int index, const std::string& request, Conn& conn)>;

  // |cert| null: plain HTTP.
  FakeHttpServer(const CertFiles* cert, Script script) : script_(std::move(script)) {
    signal(SIGPIPE, SIG_IGN);  // scripts write to clients that may have hung up
    if (cert != nullptr) {
      ctx_.reset(SSL_CTX_new(TLS_method()));
      EXPECT_TRUE(SSL_CTX_use_certificate_chain_file(ctx_.get(), cert->cert.c_str()));
      EXPECT_TRUE(SSL_CTX_use_PrivateKey_file(ctx_.get(), cert->key.c_str(), SSL_FILETYPE_PEM));
    }
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  ~FakeHttpServer() {
    Release();
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    close(listen_fd_);
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) {
      t.join();
    }
  }

  std::string url(std::string_view path = "", std::string_view host = "127.0.0.1") const {
    return absl::StrCat(ctx_ ? "https://" : "http://", std::string(host), ":", port_,
                        std::string(path));
  }
  int port() const { return port_; }
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<std::chrono::steady_clock::time_point> request_times() const {
    std::lock_guard<std::mutex> lock(mu_);
    return request_times_;
  }
  std::vector<std::string> server_names() const {
    std::lock_guard<std::mutex> lock(mu_);
    return server_names_;
  }
  int connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_;
  }
  int handshakes_failed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return handshakes_failed_;
  }

  void Hold() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [this] { return released_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  void AcceptLoop() {
    for (int index = 0;; ++index) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      ++connections_;
      threads_.emplace_back([this, fd, index] { Serve(fd, index); });
    }
  }

  void Serve(int fd, int index) {
    bssl::UniquePtr<SSL> ssl;
    if (ctx_) {
      ssl.reset(SSL_new(ctx_.get()));
      SSL_set_fd(ssl.get(), fd);
      if (SSL_accept(ssl.get()) != 1) {
        std::lock_guard<std::mutex> lock(mu_);
        ++handshakes_failed_;
        close(fd);
        return;
      }
      const char* name = SSL_get_servername(ssl.get(), TLSEXT_NAMETYPE_host_name);
      std::lock_guard<std::mutex> lock(mu_);
      server_names_.push_back(name == nullptr ? "" : name);
    }
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      const int n = ssl ? SSL_read(ssl.get(), buf, sizeof(buf))
                        : static_cast<int>(recv(fd, buf, sizeof(buf), 0));
      if (n <= 0) {
        close(fd);
        return;
      }
      head.append(buf, static_cast<size_t>(n));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(head);
      request_times_.push_back(std::chrono::steady_clock::now());
    }
    Conn conn(ssl.get(), fd);
    script_(index, head, conn);
    if (ssl) {
      SSL_shutdown(ssl.get());
    }
    close(fd);
  }

  Script script_;
  bssl::UniquePtr<SSL_CTX> ctx_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int connections_ = 0;
  int handshakes_failed_ = 0;
  std::vector<std::thread> threads_;
  std::vector<std::string> requests_;
  std::vector<std::chrono::steady_clock::time_point> request_times_;
  std::vector<std::string> server_names_;
};

}  // namespace ringward::test

#endif  // RINGWARD_TESTS_TESTING_FAKE_HTTP_SERVER_H_
