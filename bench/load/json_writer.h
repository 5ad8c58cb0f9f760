// bench/load/json_writer.h: JsonWriter, a small streaming JSON emitter for ringward-load's
// --json report.
//
// It tracks nesting so that commas are always right, escapes strings per RFC 8259 (control
// characters as \u00XX; bytes >= 0x80 pass through, so UTF-8 stays UTF-8), and writes
// non-finite doubles as null, which JSON cannot spell otherwise. Misuse (a value without a key
// inside an object, unbalanced End calls) is a programming error and is not checked.
//
// Thread-compatible: one writer per report.
#ifndef RINGWARD_BENCH_LOAD_JSON_WRITER_H_
#define RINGWARD_BENCH_LOAD_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringward::load {

class JsonWriter {
 public:
  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // Key writes an object member's name; the next call writes its value.
  void Key(std::string_view name);

  void String(std::string_view s);
  void Uint(uint64_t v);
  void Int(int64_t v);
  // Double writes |v| with |decimals| digits after the point (trailing zeros kept off), or
  // null when |v| is NaN or infinite.
  void Double(double v, int decimals = 3);
  void Bool(bool v);
  void Null();

  // Member shorthands: Key(name) then the value.
  void Field(std::string_view name, std::string_view s) { Key(name); String(s); }
  void Field(std::string_view name, const char* s) { Key(name); String(s); }
  void Field(std::string_view name, uint64_t v) { Key(name); Uint(v); }
  void Field(std::string_view name, int v) { Key(name); Int(v); }
  void Field(std::string_view name, double v, int decimals = 3) { Key(name); Double(v, decimals); }
  void Field(std::string_view name, bool v) { Key(name); Bool(v); }

  const std::string& str() const { return out_; }

  // AppendEscaped appends |s| as a quoted JSON string to |*out|.
  static void AppendEscaped(std::string_view s, std::string* out);

 private:
  void Open(char c);
  void Close(char c);
  void BeforeValue();

  std::string out_;
  std::vector<bool> has_items_;  // per open container: whether a comma is needed
  bool after_key_ = false;
};

}  // namespace ringward::load

#endif  // RINGWARD_BENCH_LOAD_JSON_WRITER_H_
