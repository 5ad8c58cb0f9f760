// bench/load/response_parser.h: ResponseParser, an incremental HTTP/1.1 response parser for
// ringward-load's client connections.
//
// It finds where each response ends on a keep-alive (possibly pipelined) connection and what
// the client needs to count: the status code and whether the server keeps the connection open.
// Bodies are skipped, not stored. Framing follows RFC 9112 §6.3 as a client sees it:
// Transfer-Encoding chunked, else Content-Length, else the body runs to the end of the
// connection; 1xx interim responses are skipped; 204 and 304 have no body. Responses to HEAD
// are not supported (ringward-load never sends HEAD).
//
// Input arrives in whatever pieces recv() returns. The common case (a whole head inside one
// piece) is parsed in place; a head or chunk-size line split across pieces is gathered in a
// small per-connection buffer, so a response head may be at most |max_head_bytes|.
//
// Thread-bound: one parser per connection, owned by the connection.
#ifndef RINGWARD_BENCH_LOAD_RESPONSE_PARSER_H_
#define RINGWARD_BENCH_LOAD_RESPONSE_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringward::load {

struct Response {
  int status = 0;
  bool keep_alive = true;   // false: the server closes the connection after this response
  uint64_t body_bytes = 0;  // for chunked bodies, the payload bytes without framing
};

class ResponseParser {
 public:
  enum class Result {
    kNeedMore,  // all input consumed, no complete response yet
    kComplete,  // *response is filled; call again with the rest of the input
    kError,     // malformed response; error() says why; the connection must be closed
  };

  explicit ResponseParser(size_t max_head_bytes = 64 * 1024) : max_head_bytes_(max_head_bytes) {}

  // Parse consumes bytes from [*cursor, end), advancing *cursor, until one response completes,
  // the input runs out, or the input is malformed.
  Result Parse(const char** cursor, const char* end, Response* response);

  // Eof tells the parser that the server closed the connection. Returns kComplete (with
  // *response) when that ends a body delimited by the connection close, kNeedMore when no
  // response was in progress, and kError when the close cut a response short.
  Result Eof(Response* response);

  // Reset prepares the parser for a new connection.
  void Reset();

  // InProgress reports whether part of a response has been consumed.
  bool InProgress() const { return state_ != State::kHead || !buffer_.empty(); }

  std::string_view error() const { return error_; }

 private:
  enum class State {
    kHead,
    kBody,          // remaining_ bytes of a Content-Length body
    kChunkSize,     // a chunk-size line
    kChunkData,     // remaining_ bytes of chunk data
    kChunkDataEnd,  // the CRLF after chunk data
    kTrailer,       // trailer lines up to an empty line
    kUntilClose,    // a body that ends when the connection does
  };

  Result Fail(const char* why);
  // ParseHead interprets one complete head (ending with CRLF CRLF).
  Result ParseHead(std::string_view head, Response* response, bool* interim);
  // TakeLine extracts one CRLF-terminated line, gathering pieces in buffer_. Returns false
  // when more input is needed (or on error, with error_ set).
  bool TakeLine(const char** cursor, const char* end, std::string_view* line);
  Result Finish(Response* response);

  const size_t max_head_bytes_;
  State state_ = State::kHead;
  uint64_t remaining_ = 0;
  Response current_;
  std::string buffer_;  // a head or line split across inputs
  const char* error_ = "";
};

}  // namespace ringward::load

#endif  // RINGWARD_BENCH_LOAD_RESPONSE_PARSER_H_
