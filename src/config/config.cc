// config.cc: LoadConfig, ParseConfig and RenderEffectiveConfig.
//
// The file is read in one pass over the known keys: each section asks its TOML table for the
// keys ringward knows, and whatever was never asked for is an unknown key. Every problem is
// collected (not just the first), so one `ringward config check` shows all of them, in file
// order. Cross-key checks (listeners, required keys, files that must exist) run only when every
// key parsed, so that one typo does not cascade into several confusing messages.
#include "ringward/config/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "config/toml.h"
#include "ringward/base/fd.h"
#include "ringward/base/os.h"

namespace ringward::config {
namespace {

// A config file is a few kilobytes; anything near this is a wrong path (a log, a binary).
constexpr size_t kMaxConfigBytes = 1 << 20;
// Past this many problems the rest is noise: the file is probably not a ringward config.
constexpr size_t kMaxReportedProblems = 20;
constexpr int64_t kIntMax = std::numeric_limits<int>::max();
constexpr int64_t kMaxBodyBytes = int64_t{64} << 20;
// sockaddr_un::sun_path holds 108 bytes including the terminating NUL.
constexpr size_t kMaxUnixPathBytes = sizeof(sockaddr_un::sun_path) - 1;
constexpr size_t kMaxClaimHeaders = 32;
constexpr size_t kMaxHeaderNameBytes = 64;

std::string Quote(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }


const char* TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

uint32_t LineOf(const toml::source_region& region) { return region.begin.line; }

// EditDistance is the Levenshtein distance; both strings are short key names.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool HasControlCharacter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// IsTchar: RFC 9110 §5.6.2 token characters, the only ones a header field name may hold.
bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

// ResolvePath makes |path| absolute against |base_dir| (itself absolute) and removes "." and
// ".." lexically; "" stays "" (the key is unset).
std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  if (path.empty()) {
    return path;
  }
  std::filesystem::path p(path);
  if (p.is_relative()) {
    p = std::filesystem::path(base_dir) / p;
  }
  std::string out = p.lexically_normal().string();
  // lexically_normal keeps a trailing separator ("dir/."" -> "dir/"); a path names one thing.
  while (out.size() > 1 && out.back() == '/') {
    out.pop_back();
  }
  return out;
}

// AbsolutePath makes |path| absolute against the working directory, so that a Config does not
// depend on where the process was when it loaded the file.
std::string AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') {
    return ResolvePath("/", path);
  }
  std::error_code ec;
  std::filesystem::path cwd = std::filesystem::current_path(ec);
  if (ec) {
    // No working directory (deleted from under us): keep relative paths relative.
    cwd = ".";
  }
  return ResolvePath(cwd.string(), path.empty() ? std::string(".") : path);
}

std::string ParentDirectory(const std::string& absolute_file) {
  std::filesystem::path parent = std::filesystem::path(absolute_file).parent_path();
  return parent.empty() ? std::string("/") : parent.string();
}

// ReadableFileProblem returns "" when |path| is a regular file this process can open for
// reading, and otherwise why not.
std::string ReadableFileProblem(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    return ErrnoText(errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return ErrnoText(errno);
  }
  if (S_ISDIR(st.st_mode)) {
    return "it is a directory, not a file";
  }
  if (!S_ISREG(st.st_mode)) {
    return "it is not a regular file";
  }
  return "";
}

// ExpandCredentials replaces ${CREDENTIALS_DIRECTORY} (or $CREDENTIALS_DIRECTORY) in a path
// with that environment variable: the directory where systemd puts the service's LoadCredential=
// copies (/run/credentials/ringward.service), so a config can name them without knowing the
// unit's name. A Section::Validator: "" when fine, else what is wrong.
std::string ExpandCredentials(std::string* value) {
  static constexpr std::string_view kBraced = "${CREDENTIALS_DIRECTORY}";
  static constexpr std::string_view kBare = "$CREDENTIALS_DIRECTORY";
  if (value->find(kBare.substr(0, 2)) == std::string::npos &&
      value->find(kBraced.substr(0, 2)) == std::string::npos) {
    return "";
  }
  const char* directory = ::getenv("CREDENTIALS_DIRECTORY");
  std::string out;
  size_t i = 0;
  while (i < value->size()) {
    std::string_view rest = std::string_view(*value).substr(i);
    size_t matched = 0;
    if (rest.substr(0, kBraced.size()) == kBraced) {
      matched = kBraced.size();
    } else if (rest.substr(0, kBare.size()) == kBare &&
               (rest.size() == kBare.size() ||
                !(std::isalnum(static_cast<unsigned char>(rest[kBare.size()])) ||
                  rest[kBare.size()] == '_'))) {
      matched = kBare.size();
    }
    if (matched == 0) {
      out.push_back((*value)[i++]);
      continue;
    }
    if (directory == nullptr || *directory == '\0') {
      return absl::StrCat(Quote(*value),
                          " uses $CREDENTIALS_DIRECTORY, which is not set: systemd sets it for a "
                          "service with LoadCredential=; outside one, set it or name the file "
                          "directly");
    }
    out.append(directory);
    i += matched;
  }
  *value = std::move(out);
  return "";
}

// InetAddressProblem returns "" when |s| is "<numeric IPv4>:<port>" or "[<numeric IPv6>]:<port>"
// with a port from 0 to 65535, and otherwise what is wrong with it. Host names are refused on
// purpose: resolving them at start would make the listening address depend on DNS.
std::string InetAddressProblem(std::string_view s) {
  std::string host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) {
      return "missing ']' after the IPv6 address";
    }
    host = std::string(s.substr(1, close - 1));
    if (close + 1 >= s.size() || s[close + 1] != ':') {
      return "missing \":port\" after the address";
    }
    port = s.substr(close + 2);
    in6_addr addr6;
    if (::inet_pton(AF_INET6, host.c_str(), &addr6) != 1) {
      return absl::StrCat(Quote(host), " is not a numeric IPv6 address");
    }
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return "missing \":port\"";
    }
    host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return "an IPv6 address must be in brackets, e.g. \"[::1]:8443\"";
    }
    in_addr addr4;
    if (::inet_pton(AF_INET, host.c_str(), &addr4) != 1) {
      return absl::StrCat(Quote(host),
                          " is not a numeric IPv4 address (host names are not resolved; use "
                          "\"0.0.0.0\" or \"[::]\" for every address)");
    }
  }
  const bool digits_only =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  int port_number = 0;
  for (char c : port) {
    port_number = port_number * 10 + (c - '0');
  }
  if (!digits_only || port_number > 65535) {
    return absl::StrCat("port ", Quote(port), " is not a number from 0 to 65535");
  }
  return "";
}

// Problems collects every error found in one file.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}

  // Add records |text| at |line| (0: the problem is with the file as a whole).
  void Add(uint32_t line, std::string text) { items_.push_back({line, std::move(text)}); }
  bool empty() const { return items_.empty(); }

  // ToStatus is one line per problem, in file order; problems of the whole file come last.
  absl::Status ToStatus() const {
    std::vector<Item> sorted = items_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Item& a, const Item& b) {
      const uint64_t ka = a.line == 0 ? UINT64_MAX : a.line;
      const uint64_t kb = b.line == 0 ? UINT64_MAX : b.line;
      return ka < kb;
    });
    std::string message;
    for (size_t i = 0; i < sorted.size() && i < kMaxReportedProblems; ++i) {
      if (i > 0) {
        message += "\n";
      }
      if (sorted[i].line == 0) {
        absl::StrAppend(&message, file_, ": ", sorted[i].text);
      } else {
        absl::StrAppend(&message, file_, ":", sorted[i].line, ": ", sorted[i].text);
      }
    }
    if (sorted.size() > kMaxReportedProblems) {
      absl::StrAppend(&message, "\n", file_, ": ... and ", sorted.size() - kMaxReportedProblems,
                      " more problems");
    }
    return absl::InvalidArgumentError(message);
  }

 private:
  struct Item {
    uint32_t line;
    std::string text;
  };
  std::string file_;
  std::vector<Item> items_;
};

// KnownKeys is every key the reader asked for, so that an unknown key can be matched against
// the keys of other sections ("leeway_s" in [server] belongs in [tokens]).
struct KnownKey {
  std::string section;  // "" for the top level
  std::string key;
  bool is_table;
};
using KnownKeys = std::vector<KnownKey>;

// Section reads one TOML table (or the top level, named "") against the keys ringward knows.
// A missing table reads as all defaults.
class Section {
 public:
  // Validator checks (and may rewrite, e.g. resolve) one string value; "" means it is fine.
  using Validator = std::function<std::string(std::string*)>;

  // |display| is how messages name the section when it differs from |name|: the elements of an
  // array of tables share one name (for the known keys) but each has its own index.
  Section(Problems* problems, KnownKeys* known, std::string name, const toml::table* table,
          uint32_t line, std::string display = "")
      : problems_(problems),
        known_(known),
        name_(std::move(name)),
        display_(display.empty() ? name_ : std::move(display)),
        table_(table),
        line_(line) {}

  const std::string& name() const { return name_; }
  const std::string& display() const { return display_; }

  // KeyLine is the line where |key| was set, else the section's line.
  uint32_t KeyLine(std::string_view key) const {
    auto it = key_lines_.find(std::string(key));
    return it == key_lines_.end() ? line_ : it->second;
  }

  // Label names a key the way messages print it: "[server] shards", or "data_dir".
  std::string Label(std::string_view key) const {
    return name_.empty() ? std::string(key) : absl::StrCat("[", display_, "] ", std::string(key));
  }

  void Int(std::string_view key, int* out, int64_t min, int64_t max) {
    int64_t value;
    if (Integer(key, min, max, &value)) {
      *out = static_cast<int>(value);
    }
  }

  void Size(std::string_view key, size_t* out, int64_t min, int64_t max) {
    int64_t value;
    if (Integer(key, min, max, &value)) {
      *out = static_cast<size_t>(value);
    }
  }

  void Int64(std::string_view key, int64_t* out, int64_t min, int64_t max) {
    int64_t value;
    if (Integer(key, min, max, &value)) {
      *out = value;
    }
  }

  void Uint32(std::string_view key, uint32_t* out, int64_t min, int64_t max) {
    int64_t value;
    if (Integer(key, min, max, &value)) {
      *out = static_cast<uint32_t>(value);
    }
  }

  // Int64OrZero reads 0 (which means |zero_means|) or an integer from |min| to |max|.
  void Int64OrZero(std::string_view key, int64_t* out, int64_t min, int64_t max,
                   std::string_view zero_means) {
    const toml::node* node = Find(key);
    if (node == nullptr) {
      return;
    }
    const auto* i = node->as_integer();
    if (i == nullptr) {
      TypeError(key, *node, "an integer");
      return;
    }
    const int64_t value = i->get();
    if (value != 0 && (value < min || value > max)) {
      problems_->Add(LineOf(node->source()),
                     absl::StrCat(Label(key), ": must be 0 (", std::string(zero_means),
                                  ") or between ", min, " and ", max, ", got ", value));
      return;
    }
    *out = value;
  }

  void Bool(std::string_view key, bool* out) {
    const toml::node* node = Find(key);
    if (node == nullptr) {
      return;
    }
    if (const auto* b = node->as_boolean()) {
      *out = b->get();
    } else {
      TypeError(key, *node, "a boolean (true or false)");
    }
  }

  // Fraction reads a number from 0 to 1 (a float, or the integers 0 and 1).
  void Fraction(std::string_view key, double* out) {
    const toml::node* node = Find(key);
    if (node == nullptr) {
      return;
    }
    double value;
    if (const auto* f = node->as_floating_point()) {
      value = f->get();
    } else if (const auto* i = node->as_integer()) {
      value = static_cast<double>(i->get());
    } else {
      TypeError(key, *node, "a number from 0.0 to 1.0");
      return;
    }
    if (!(value >= 0.0 && value <= 1.0)) {
      problems_->Add(LineOf(node->source()),
                     absl::StrCat(Label(key), ": must be between 0.0 and 1.0, got ", value));
      return;
    }
    *out = value;
  }

  void String(std::string_view key, std::string* out, const Validator& validate = nullptr) {
    const toml::node* node = Find(key);
    if (node == nullptr) {
      return;
    }
    const auto* s = node->as_string();
    if (s == nullptr) {
      TypeError(key, *node, "a string");
      return;
    }
    std::string value = s->get();
    if (validate) {
      std::string problem = validate(&value);
      if (!problem.empty()) {
        problems_->Add(LineOf(node->source()), absl::StrCat(Label(key), ": ", problem));
        return;
      }
    }
    *out = std::move(value);
  }

  void StringArray(std::string_view key, std::vector<std::string>* out,
                   const Validator& validate = nullptr) {
    const toml::node* node = Find(key);
    if (node == nullptr) {
      return;
    }
    const auto* array = node->as_array();
    if (array == nullptr) {
      TypeError(key, *node, "an array of strings");
      return;
    }
    std::vector<std::string> values;
    bool ok = true;
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = (*array)[i];
      const std::string label = absl::StrCat(Label(key), "[", i, "]");
      const auto* s = element.as_string();
      if (s == nullptr) {
        problems_->Add(LineOf(element.source()),
                       absl::StrCat(label, ": expected a string, got ", TypeName(element.type())));
        ok = false;
        continue;
      }
      std::string value = s->get();
      if (validate) {
        std::string problem = validate(&value);
        if (!problem.empty()) {
          problems_->Add(LineOf(element.source()), absl::StrCat(label, ": ", problem));
          ok = false;
          continue;
        }
      }
      values.push_back(std::move(value));
    }
    if (ok) {
      *out = std::move(values);
    }
  }

  // Table returns the sub-table |key|, or nullptr when it is absent or not a table (reported).
  const toml::table* Table(std::string_view key, std::string_view expected) {
    const toml::node* node = Find(key, /*is_table=*/true);
    if (node == nullptr) {
      return nullptr;
    }
    const auto* table = node->as_table();
    if (table == nullptr) {
      TypeError(key, *node, expected);
    }
    return table;
  }

  // Array returns the array |key|, or nullptr when it is absent or not an array (reported).
  const toml::array* Array(std::string_view key, std::string_view expected) {
    const toml::node* node = Find(key);
    if (node == nullptr) {
      return nullptr;
    }
    const auto* array = node->as_array();
    if (array == nullptr) {
      TypeError(key, *node, expected);
    }
    return array;
  }

  // ReportUnknown reports every key of the table that was never asked for. Call it after every
  // section has been read, so that |known| is complete.
  void ReportUnknown() const {
    if (table_ == nullptr) {
      return;
    }
    for (auto&& [key, node] : *table_) {
      const std::string k(key.str());
      if (asked_.count(k) > 0) {
        continue;
      }
      const bool is_table = node.is_table();
      const std::string full = name_.empty() ? k : absl::StrCat(display_, ".", k);
      std::string text;
      if (is_table) {
        text = absl::StrCat("unknown section [", full, "]");
      } else if (name_.empty()) {
        text = absl::StrCat("unknown key ", Quote(k), " at the top level");
      } else {
        text = absl::StrCat("unknown key ", Quote(k), " in [", display_, "]");
      }
      absl::StrAppend(&text, Hint(k, is_table));
      problems_->Add(LineOf(key.source()), std::move(text));
    }
  }

 private:
  const toml::node* Find(std::string_view key, bool is_table = false) {
    const std::string k(key);
    if (asked_.insert(k).second) {
      known_->push_back({name_, k, is_table});
    }
    if (table_ == nullptr) {
      return nullptr;
    }
    auto it = table_->find(key);
    if (it == table_->end()) {
      return nullptr;
    }
    key_lines_[k] = LineOf(it->first.source());
    return &it->second;
  }

  bool Integer(std::string_view key, int64_t min, int64_t max, int64_t* value) {
    const toml::node* node = Find(key);
    if (node == nullptr) {
      return false;
    }
    const auto* i = node->as_integer();
    if (i == nullptr) {
      TypeError(key, *node, "an integer");
      return false;
    }
    *value = i->get();
    if (*value >= min && *value <= max) {
      return true;
    }
    std::string expected;
    if (max == kIntMax && min == 1) {
      expected = "must be greater than 0";
    } else if (max == kIntMax) {
      expected = absl::StrCat("must be at least ", min);
    } else {
      expected = absl::StrCat("must be between ", min, " and ", max);
    }
    problems_->Add(LineOf(node->source()),
                   absl::StrCat(Label(key), ": ", expected, ", got ", *value));
    return false;
  }

  void TypeError(std::string_view key, const toml::node& node, std::string_view expected) {
    problems_->Add(LineOf(node.source()),
                   absl::StrCat(Label(key), ": expected ", std::string(expected), ", got ",
                                TypeName(node.type())));
  }

  // Hint suggests where an unknown key |k| was meant to go: the section that has a key of that
  // exact name, or the nearest key here (edit distance at most 2).
  std::string Hint(const std::string& k, bool is_table) const {
    for (const KnownKey& known : *known_) {
      if (known.key == k && known.section != name_) {
        return known.section.empty() ? " (it belongs at the top level, before any [section])"
                                     : absl::StrCat(" (it belongs in [", known.section, "])");
      }
    }
    const KnownKey* best = nullptr;
    size_t best_distance = 3;
    for (const KnownKey& known : *known_) {
      if (known.section != name_) {
        continue;
      }
      const size_t d = EditDistance(k, known.key);
      if (d < best_distance && d < known.key.size()) {
        best = &known;
        best_distance = d;
      }
    }
    if (best == nullptr) {
      return "";
    }
    // A misspelt section is suggested as a section: [server], not "server".
    if (is_table && best->is_table) {
      return absl::StrCat(" (did you mean [", name_.empty() ? "" : name_ + ".", best->key, "]?)");
    }
    return absl::StrCat(" (did you mean ", Quote(best->key), "?)");
  }

  Problems* problems_;
  KnownKeys* known_;
  std::string name_;
  std::string display_;
  const toml::table* table_;
  uint32_t line_;
  std::map<std::string, uint32_t> key_lines_;
  std::set<std::string> asked_;
};

// A sub-section: the table under |key| in |parent|, read with its own unknown-key checks.
Section SubSection(Section* parent, Problems* problems, KnownKeys* known, std::string_view key) {
  const toml::table* table = parent->Table(key, absl::StrCat("a table ([", std::string(key), "])"));
  std::string name = parent->name().empty() ? std::string(key)
                                            : absl::StrCat(parent->name(), ".", std::string(key));
  return Section(problems, known, std::move(name), table, parent->KeyLine(key));
}

std::string TlsListenProblem(std::string* value) {
  if (value->rfind("unix:", 0) == 0) {
    return absl::StrCat("bad address ", Quote(*value),
                        ": unix sockets are for plain_listen only (TLS listeners take "
                        "\"<IP>:<port>\")");
  }
  std::string problem = InetAddressProblem(*value);
  if (problem.empty()) {
    return "";
  }
  return absl::StrCat("bad address ", Quote(*value), ": ", problem,
                      " (expected e.g. \"127.0.0.1:8443\" or \"[::1]:8443\")");
}

std::string PlainListenProblem(const std::string& base_dir, std::string* value) {
  if (value->rfind("unix:", 0) == 0) {
    const std::string path = value->substr(5);
    if (path.empty()) {
      return absl::StrCat("bad address ", Quote(*value),
                          ": a socket path must follow \"unix:\", e.g. "
                          "\"unix:/run/ringward/ringward.sock\"");
    }
    const std::string resolved = ResolvePath(base_dir, path);
    if (resolved.size() > kMaxUnixPathBytes) {
      return absl::StrCat("bad address ", Quote(*value), ": the socket path ", Quote(resolved),
                          " is longer than ", kMaxUnixPathBytes, " bytes");
    }
    *value = absl::StrCat("unix:", resolved);
    return "";
  }
  std::string problem = InetAddressProblem(*value);
  if (problem.empty()) {
    return "";
  }
  return absl::StrCat("bad address ", Quote(*value), ": ", problem,
                      " (expected e.g. \"127.0.0.1:8080\", \"[::1]:8080\" or "
                      "\"unix:/run/ringward/ringward.sock\")");
}

std::string NonEmptyTextProblem(std::string* value) {
  if (value->empty()) {
    return "must not be empty";
  }
  if (HasControlCharacter(*value)) {
    return "must not contain control characters";
  }
  return "";
}

// IsLoopbackHost: the hosts for which an http:// issuer or base URL is allowed, because the
// traffic never leaves the machine (development, tests, a sidecar).
bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1") {
    return true;
  }
  in_addr addr4;
  return ::inet_pton(AF_INET, host.c_str(), &addr4) == 1 && (ntohl(addr4.s_addr) >> 24) == 127;
}

// UrlProblem returns "" when |url| is an https:// URL (http:// only for a loopback host) with a
// host, an optional port and, when |allow_path|, a path; never a query, a fragment or user
// information. Without |allow_path| a lone trailing "/" is removed from |*url|.
std::string UrlProblem(std::string* url, bool allow_path) {
  const std::string& u = *url;
  if (std::any_of(u.begin(), u.end(), [](char c) {
        const auto b = static_cast<unsigned char>(c);
        return b <= 0x20 || b >= 0x7f;
      })) {
    return absl::StrCat(Quote(u), " must not contain spaces, control or non-ASCII characters");
  }
  bool secure;
  std::string_view rest;
  if (u.rfind("https://", 0) == 0) {
    secure = true;
    rest = std::string_view(u).substr(8);
  } else if (u.rfind("http://", 0) == 0) {
    secure = false;
    rest = std::string_view(u).substr(7);
  } else {
    return absl::StrCat(Quote(u), " is not an https:// URL, e.g. \"https://auth.example.com\"");
  }
  const size_t authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return absl::StrCat(Quote(u), " must not hold a user name or password");
  }
  std::string host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::StrCat(Quote(u), ": missing ']' after the IPv6 address");
    }
    host = std::string(authority.substr(1, close - 1));
    in6_addr addr6;
    if (::inet_pton(AF_INET6, host.c_str(), &addr6) != 1) {
      return absl::StrCat(Quote(u), ": ", Quote(host), " is not an IPv6 address");
    }
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return absl::StrCat(Quote(u), ": only \":port\" may follow the IPv6 address");
    }
    port = after.empty() ? after : after.substr(1);
    if (after.size() == 1) {
      return absl::StrCat(Quote(u), ": the port after ':' is missing");
    }
  } else {
    const size_t colon = authority.find(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) {
        return absl::StrCat(Quote(u), ": the port after ':' is missing");
      }
    }
    const bool host_ok = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '.';
    });
    if (!host_ok) {
      return absl::StrCat(Quote(u), " has no valid host name (letters, digits, '-' and '.')");
    }
  }
  if (!port.empty()) {
    const bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    int number = 0;
    for (char c : port) {
      number = number * 10 + (c - '0');
    }
    if (!digits || number < 1 || number > 65535) {
      return absl::StrCat(Quote(u), ": port ", Quote(port), " is not a number from 1 to 65535");
    }
  }
  if (!secure && !IsLoopbackHost(host)) {
    return absl::StrCat(Quote(u),
                        " must use https:// (http:// is allowed only for loopback hosts: "
                        "localhost, 127.0.0.1, [::1])");
  }
  if (tail.find_first_of("?#") != std::string_view::npos) {
    return absl::StrCat(Quote(u), " must not have a query or a fragment");
  }
  if (!allow_path && !tail.empty()) {
    if (tail != "/") {
      return absl::StrCat(Quote(u),
                          " must not have a path: the endpoints are at fixed paths under it "
                          "(e.g. \"https://auth.example.com\")");
    }
    url->pop_back();
  }
  return "";
}

// IssuerUrlProblem: an issuer identifier (RFC 8414 §2): https, may have a path. "" is the
// default ([tokens] issuers[0]).
std::string IssuerUrlProblem(std::string* value) {
  return value->empty() ? "" : UrlProblem(value, /*allow_path=*/true);
}

// BaseUrlProblem: where the endpoints are, without a path. "" is the default (the issuer).
std::string BaseUrlProblem(std::string* value) {
  return value->empty() ? "" : UrlProblem(value, /*allow_path=*/false);
}

std::string SigningAlgProblem(std::string* value) {
  for (std::string_view alg : {"EdDSA", "ES256", "RS256", "PS256"}) {
    if (*value == alg) {
      return "";
    }
  }
  return absl::StrCat("must be EdDSA, ES256, RS256 or PS256 (an asymmetric algorithm: its "
                      "public keys are published in the JWKS), got ",
                      Quote(*value));
}

// ScopeTokenProblem: RFC 6749 §3.3 scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
std::string ScopeTokenProblem(std::string* value) {
  const bool ok = !value->empty() && std::all_of(value->begin(), value->end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x21 && u <= 0x7e && c != '"' && c != '\\';
  });
  if (ok) {
    return "";
  }
  return absl::StrCat(Quote(*value),
                      " is not a scope (printable ASCII without spaces, '\"' or '\\', e.g. "
                      "\"read:orders\")");
}

std::string NoControlCharacterProblem(std::string* value) {
  return HasControlCharacter(*value) ? "must not contain control characters" : "";
}

// Claims GET /v1/verify already answers with its own headers (DESIGN.md: X-Auth-Subject,
// X-Auth-Client, X-Auth-Scope); mapping them again would send two values for one fact.
constexpr std::pair<std::string_view, std::string_view> kBuiltInClaimHeaders[] = {
    {"sub", "X-Auth-Subject"},
    {"client_id", "X-Auth-Client"},
    {"scope", "X-Auth-Scope"},
};

// Header names a claim may never be copied into: message framing, hop-by-hop, authentication
// and cookie headers, whose meaning a token's contents must not be able to change.
constexpr std::string_view kForbiddenHeaders[] = {
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "cookie",
    "date",
    "host",
    "keep-alive",
    "location",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "server",
    "set-cookie",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "www-authenticate",
};

std::string HeaderNameProblem(std::string_view header) {
  if (header.empty()) {
    return "the header name is empty";
  }
  if (header.size() > kMaxHeaderNameBytes) {
    return absl::StrCat("the header name is longer than ", kMaxHeaderNameBytes, " bytes");
  }
  if (!std::all_of(header.begin(), header.end(), IsTchar)) {
    return absl::StrCat(Quote(header),
                        " is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ "
                        "only, e.g. \"X-Auth-Email\")");
  }
  const std::string lower = Lowercase(header);
  for (const auto& [claim, builtin] : kBuiltInClaimHeaders) {
    if (lower == Lowercase(builtin)) {
      return absl::StrCat(Quote(header), " is already used for the \"", std::string(claim),
                          "\" claim");
    }
  }
  for (std::string_view forbidden : kForbiddenHeaders) {
    if (lower == forbidden) {
      return absl::StrCat(Quote(header),
                          " is reserved for HTTP itself; use a name of your own such as "
                          "\"X-Auth-Email\"");
    }
  }
  return "";
}

void ReadClaimHeaders(Section* tokens, Problems* problems, TokensConfig* out) {
  // Any claim name may be a key here, so this table has no unknown keys of its own.
  const toml::table* table =
      tokens->Table("claim_headers", "a table of claim = \"Header-Name\" pairs");
  if (table == nullptr) {
    return;
  }
  const std::string label = "[tokens.claim_headers]";
  std::vector<std::pair<std::string, std::string>> pairs;
  std::map<std::string, std::string> claim_by_header;  // lowercase header -> claim
  bool ok = true;
  for (auto&& [key, node] : *table) {
    const std::string claim(key.str());
    const std::string where = absl::StrCat(label, " ", Quote(claim));
    const uint32_t key_line = LineOf(key.source());
    const auto* header = node.as_string();
    if (header == nullptr) {
      problems->Add(
          LineOf(node.source()),
          absl::StrCat(where, ": expected a string (a header name), got ", TypeName(node.type())));
      ok = false;
      continue;
    }
    if (claim.empty() || HasControlCharacter(claim)) {
      problems->Add(key_line, absl::StrCat(where, ": not a usable claim name"));
      ok = false;
      continue;
    }
    bool builtin = false;
    for (const auto& [builtin_claim, builtin_header] : kBuiltInClaimHeaders) {
      if (claim == builtin_claim) {
        problems->Add(key_line, absl::StrCat(where, ": already sent as ",
                                             std::string(builtin_header), " on every answer"));
        builtin = true;
      }
    }
    if (builtin) {
      ok = false;
      continue;
    }
    const std::string problem = HeaderNameProblem(header->get());
    if (!problem.empty()) {
      problems->Add(LineOf(node.source()), absl::StrCat(where, ": ", problem));
      ok = false;
      continue;
    }
    auto [it, inserted] = claim_by_header.emplace(Lowercase(header->get()), claim);
    if (!inserted) {
      problems->Add(LineOf(node.source()),
                    absl::StrCat(where, ": header ", Quote(header->get()),
                                 " is already used for claim ", Quote(it->second)));
      ok = false;
      continue;
    }
    pairs.emplace_back(claim, header->get());
  }
  if (pairs.size() > kMaxClaimHeaders) {
    problems->Add(
        tokens->KeyLine("claim_headers"),
        absl::StrCat(label, ": at most ", kMaxClaimHeaders, " claims may be copied into headers"));
    ok = false;
  }
  if (ok) {
    out->claim_headers = std::move(pairs);
  }
}

// CheckCrossKeys runs the checks that involve more than one key or the file system.
void CheckCrossKeys(const Config& config, const Section& server, const Section& tls,
                    const Section& tokens, Problems* problems) {
  const ServerConfig& s = config.server;
  if (s.listen.empty() && s.plain_listen.empty()) {
    problems->Add(server.KeyLine("listen"),
                  "[server] listen and plain_listen are both empty: ringward would not accept "
                  "any connection; set listen = [\"127.0.0.1:8443\"] (or a plain_listen)");
  }
  // Two listeners on one address would fail at bind() with a less helpful message. Port 0 (any
  // free port, for tests) can repeat.
  std::map<std::string, std::string> seen;
  auto check_duplicates = [&](const std::vector<std::string>& addresses, std::string_view key) {
    for (size_t i = 0; i < addresses.size(); ++i) {
      const std::string& a = addresses[i];
      if (a.size() > 2 && a.compare(a.size() - 2, 2, ":0") == 0) {
        continue;
      }
      const std::string label = absl::StrCat(std::string(key), "[", i, "]");
      auto [it, inserted] = seen.emplace(a, label);
      if (!inserted) {
        problems->Add(server.KeyLine(key), absl::StrCat("[server] ", label, ": ", Quote(a),
                                                        " is already in ", it->second));
      }
    }
  };
  check_duplicates(s.listen, "listen");
  check_duplicates(s.plain_listen, "plain_listen");

  auto check_file = [&](const Section& section, std::string_view key, const std::string& path) {
    const std::string problem = ReadableFileProblem(path);
    if (!problem.empty()) {
      problems->Add(section.KeyLine(key),
                    absl::StrCat(section.Label(key), ": cannot read ", Quote(path), ": ", problem));
    }
  };
  const bool tls_needed = !s.listen.empty();
  if (config.tls.certificate.empty()) {
    if (tls_needed) {
      problems->Add(tls.KeyLine("certificate"),
                    "[tls] certificate is required when [server] listen is not empty: the PEM "
                    "certificate chain, e.g. certificate = \"cert.pem\"");
    }
  } else {
    check_file(tls, "certificate", config.tls.certificate);
  }
  if (config.tls.private_key.empty()) {
    if (tls_needed) {
      problems->Add(tls.KeyLine("private_key"),
                    "[tls] private_key is required when [server] listen is not empty: the PEM "
                    "private key, e.g. private_key = \"key.pem\"");
    }
  } else {
    check_file(tls, "private_key", config.tls.private_key);
  }

  if (config.tokens.keys.empty()) {
    // Issuance makes and rotates its own signing keys; a keys file then only adds to them.
    if (!config.issuance.enabled) {
      problems->Add(tokens.KeyLine("keys"),
                    "[tokens] keys is required: the JWKS file with the signing and verification "
                    "keys, e.g. keys = \"keys.json\" (`ringward keygen` makes one), unless "
                    "[issuance] enabled = true, which makes its own");
    }
  } else {
    check_file(tokens, "keys", config.tokens.keys);
  }
  if (config.tokens.issuers.empty()) {
    problems->Add(tokens.KeyLine("issuers"),
                  "[tokens] issuers: at least one issuer is required, e.g. issuers = "
                  "[\"https://auth.example.com\"]");
  }
}

// CheckAdmin checks the admin listener against the rest: it needs the data directory (the
// revocation log lives there), must not take a public listener's address, and its token file
// must be readable.
void CheckAdmin(const Config& config, const Section& admin, Problems* problems) {
  const AdminConfig& a = config.admin;
  if (!a.listen.empty() && config.data_dir.empty()) {
    problems->Add(admin.KeyLine("listen"),
                  "[admin] listen needs data_dir: revocations made through the admin API are "
                  "kept in a write-ahead log in <data_dir>/wal; set data_dir = "
                  "\"/var/lib/ringward\" at the top level (before any [section])");
  }
  for (size_t i = 0; i < a.listen.size(); ++i) {
    const std::string& address = a.listen[i];
    if (address.size() > 2 && address.compare(address.size() - 2, 2, ":0") == 0) {
      continue;
    }
    for (const std::vector<std::string>* public_listeners :
         {&config.server.listen, &config.server.plain_listen}) {
      for (const std::string& p : *public_listeners) {
        if (p == address) {
          problems->Add(admin.KeyLine("listen"),
                        absl::StrCat("[admin] listen[", i, "]: ", Quote(address),
                                     " is also a [server] listener; the admin API needs an "
                                     "address of its own (e.g. \"127.0.0.1:8444\")"));
        }
      }
    }
  }
  if (!a.token_file.empty()) {
    const std::string problem = ReadableFileProblem(a.token_file);
    if (!problem.empty()) {
      problems->Add(admin.KeyLine("token_file"),
                    absl::StrCat("[admin] token_file: cannot read ", Quote(a.token_file), ": ",
                                 problem));
    }
  }
}

// LeaderUrlProblem checks a follower's leader URL: https://host:port, nothing after.
std::string LeaderUrlProblem(std::string* value) {
  if (value->empty()) {
    return "";
  }
  const std::string_view v = *value;
  if (v.substr(0, 8) != "https://") {
    return absl::StrCat("must be an https:// URL of the leader's replication listener, e.g. "
                        "\"https://10.0.0.1:8445\", got ",
                        Quote(*value));
  }
  const std::string_view rest = v.substr(8);
  if (rest.empty() || rest.find_first_of("/?#@") != std::string_view::npos ||
      rest.rfind(':') == std::string_view::npos || rest.back() == ':' || rest.back() == ']') {
    return absl::StrCat("must be https://<host>:<port> with nothing after the port, got ",
                        Quote(*value));
  }
  return "";
}

// CheckReplication: what a leader's listener and a follower need.
void CheckReplication(const Config& config, const Section& replication, Problems* problems) {
  const ReplicationConfig& r = config.replication;
  if (r.listen.empty() && r.leader.empty()) {
    return;
  }
  const std::string_view key = r.leader.empty() ? "listen" : "leader";
  if (config.data_dir.empty()) {
    problems->Add(replication.KeyLine(key),
                  absl::StrCat("[replication] ", std::string(key),
                               " needs data_dir: the log being replicated lives there"));
  }
  if (r.credential_file.empty()) {
    problems->Add(replication.KeyLine(key),
                  absl::StrCat("[replication] ", std::string(key),
                               " needs credential_file: the bearer secret followers present"));
  } else if (const std::string problem = ReadableFileProblem(r.credential_file);
             !problem.empty()) {
    problems->Add(replication.KeyLine("credential_file"),
                  absl::StrCat("[replication] credential_file: cannot read ",
                               Quote(r.credential_file), ": ", problem));
  }
  if (!r.listen.empty() && (config.tls.certificate.empty() || config.tls.private_key.empty())) {
    problems->Add(replication.KeyLine("listen"),
                  "[replication] listen serves TLS with [tls] certificate and private_key: set "
                  "both");
  }
  if (!r.leader.empty()) {
    if (r.ca_file.empty()) {
      problems->Add(replication.KeyLine("leader"),
                    "[replication] leader needs ca_file: the PEM the leader's certificate must "
                    "verify against (a follower never reads from an unverified leader)");
    } else if (const std::string problem = ReadableFileProblem(r.ca_file); !problem.empty()) {
      problems->Add(replication.KeyLine("ca_file"),
                    absl::StrCat("[replication] ca_file: cannot read ", Quote(r.ca_file), ": ",
                                 problem));
    }
  }
}

// JwksUrlProblem: where a trusted issuer's JWKS is fetched from: https (http only on loopback),
// a path, no query or fragment. "" is "not set" (the issuer has a jwks file instead).
std::string JwksUrlProblem(std::string* value) {
  return value->empty() ? "" : UrlProblem(value, /*allow_path=*/true);
}

// ReadTrustedIssuers reads the [[issuance.trusted_issuers]] tables. Each is a Section of its own
// (appended to |sections|, parallel to |out|) so that its keys get the usual type, value and
// unknown-key checks.
void ReadTrustedIssuers(Section* issuance, Problems* problems, KnownKeys* known,
                        const std::string& base_dir, std::vector<Section>* sections,
                        std::vector<TrustedIssuerConfig>* out) {
  const toml::array* array = issuance->Array(
      "trusted_issuers", "an array of tables ([[issuance.trusted_issuers]] sections)");
  if (array == nullptr) {
    return;
  }
  std::vector<TrustedIssuerConfig> issuers;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = (*array)[i];
    const std::string display = absl::StrCat("issuance.trusted_issuers[", i, "]");
    const auto* table = element.as_table();
    if (table == nullptr) {
      problems->Add(LineOf(element.source()),
                    absl::StrCat("[", display,
                                 "]: expected a table (an [[issuance.trusted_issuers]] "
                                 "section), got ",
                                 TypeName(element.type())));
      continue;
    }
    sections->emplace_back(problems, known, "issuance.trusted_issuers", table,
                           LineOf(element.source()), display);
    Section& section = sections->back();
    TrustedIssuerConfig issuer;
    section.String("issuer", &issuer.issuer, NonEmptyTextProblem);
    section.String("jwks", &issuer.jwks, ExpandCredentials);
    issuer.jwks = ResolvePath(base_dir, issuer.jwks);
    section.String("jwks_url", &issuer.jwks_url, JwksUrlProblem);
    section.String("ca_file", &issuer.ca_file, ExpandCredentials);
    issuer.ca_file = ResolvePath(base_dir, issuer.ca_file);
    section.Int64("jwks_refresh_s", &issuer.jwks_refresh_s, 30, 86400);
    section.Int64("jwks_min_refresh_s", &issuer.jwks_min_refresh_s, 1, 86400);
    section.StringArray("audiences", &issuer.audiences, NonEmptyTextProblem);
    section.String("subject_prefix", &issuer.subject_prefix, NoControlCharacterProblem);
    section.StringArray("scopes", &issuer.scopes, ScopeTokenProblem);
    issuers.push_back(std::move(issuer));
  }
  *out = std::move(issuers);
}

// CheckIssuance checks [issuance] against itself and the rest, and when it is enabled fills in
// the defaults that come from other keys (issuer, base_url, audiences; see IssuanceConfig).
// |trusted| holds the section of each trusted issuer, in order.
void CheckIssuance(Config* config, const Section& issuance, const std::vector<Section>& trusted,
                   Problems* problems) {
  IssuanceConfig& is = config->issuance;
  if (is.max_lockout_s < is.lockout_s) {
    problems->Add(issuance.KeyLine("max_lockout_s"),
                  absl::StrCat("[issuance] max_lockout_s: must be at least lockout_s (",
                               is.lockout_s, "), got ", is.max_lockout_s));
  }
  // RFC 9106 §3.1: the memory is at least 8 KiB per lane; libargon2 refuses less.
  if (is.argon2_memory_kib < 8 * is.argon2_parallelism) {
    problems->Add(issuance.KeyLine("argon2_memory_kib"),
                  absl::StrCat("[issuance] argon2_memory_kib: Argon2 needs at least 8 KiB per "
                               "lane, so at least ",
                               8 * is.argon2_parallelism, " with argon2_parallelism = ",
                               is.argon2_parallelism, ", got ", is.argon2_memory_kib));
  }

  std::map<std::string, size_t> seen;  // issuer -> index
  for (size_t i = 0; i < is.trusted_issuers.size() && i < trusted.size(); ++i) {
    TrustedIssuerConfig& t = is.trusted_issuers[i];
    const Section& section = trusted[i];
    if (t.issuer.empty()) {
      problems->Add(section.KeyLine("issuer"),
                    absl::StrCat(section.Label("issuer"),
                                 " is required: the \"iss\" of the provider's tokens, e.g. "
                                 "issuer = \"https://accounts.example.com\""));
    } else {
      auto [it, inserted] = seen.emplace(t.issuer, i);
      if (!inserted) {
        problems->Add(section.KeyLine("issuer"),
                      absl::StrCat(section.Label("issuer"), ": ", Quote(t.issuer),
                                   " is already trusted_issuers[", it->second,
                                   "]; give each provider one table"));
      }
    }
    if (t.jwks.empty() && t.jwks_url.empty()) {
      problems->Add(section.KeyLine("jwks"),
                    absl::StrCat(section.Label("jwks"),
                                 " or jwks_url is required: where the provider's public keys are, "
                                 "a JWKS file (jwks = \"accounts-jwks.json\") or a URL (jwks_url = "
                                 "\"https://accounts.example.com/.well-known/jwks.json\")"));
    } else if (!t.jwks.empty() && !t.jwks_url.empty()) {
      problems->Add(section.KeyLine("jwks_url"),
                    absl::StrCat(section.Label("jwks_url"),
                                 ": set either jwks (a file) or jwks_url, not both"));
    } else if (!t.jwks.empty()) {
      const std::string problem = ReadableFileProblem(t.jwks);
      if (!problem.empty()) {
        problems->Add(section.KeyLine("jwks"), absl::StrCat(section.Label("jwks"), ": cannot read ",
                                                            Quote(t.jwks), ": ", problem));
      }
      if (!t.ca_file.empty()) {
        problems->Add(section.KeyLine("ca_file"),
                      absl::StrCat(section.Label("ca_file"),
                                   " applies only to jwks_url (the JWKS file is read as it is); "
                                   "remove it"));
      }
    } else {
      const bool system_bundle = t.ca_file.empty();
      if (system_bundle) {
        t.ca_file = kSystemCaBundle;
      }
      const std::string problem = ReadableFileProblem(t.ca_file);
      if (!problem.empty()) {
        problems->Add(section.KeyLine(system_bundle ? "jwks_url" : "ca_file"),
                      absl::StrCat(section.Label("ca_file"), ": cannot read ", Quote(t.ca_file),
                                   system_bundle ? " (the system's CA bundle, used when ca_file "
                                                   "is not set)"
                                                 : "",
                                   ": ", problem,
                                   system_bundle ? "; set ca_file to the PEM bundle the "
                                                   "provider's certificate chains to"
                                                 : ""));
      }
    }
    if (t.jwks_min_refresh_s > t.jwks_refresh_s) {
      problems->Add(section.KeyLine("jwks_min_refresh_s"),
                    absl::StrCat(section.Label("jwks_min_refresh_s"), ": must be at most "
                                 "jwks_refresh_s (", t.jwks_refresh_s, "), got ",
                                 t.jwks_min_refresh_s));
    }
    // Usernames cannot hold ':', so a prefix with one keeps an exchanged subject from ever
    // naming a local user (whose tokens carry the bare username as sub).
    if (!t.subject_prefix.empty()) {
      if (t.subject_prefix.find(':') == std::string::npos) {
        problems->Add(section.KeyLine("subject_prefix"),
                      absl::StrCat(section.Label("subject_prefix"), ": ", Quote(t.subject_prefix),
                                   " must contain a ':' (which usernames cannot), so that an "
                                   "exchanged subject is never taken for a local user; e.g. ",
                                   Quote("corp:")));
      }
    } else if (!t.issuer.empty()) {
      t.subject_prefix = absl::StrCat(t.issuer, "|");
      if (t.issuer.find(':') == std::string::npos) {
        problems->Add(section.KeyLine("issuer"),
                      absl::StrCat(section.Label("subject_prefix"), " is not set, so it is ",
                                   Quote(t.subject_prefix),
                                   ", which has no ':' (usernames cannot hold one, so it keeps an "
                                   "exchanged subject from being taken for a local user); set "
                                   "subject_prefix = ",
                                   Quote("corp:")));
      }
    }
  }

  if (!is.enabled) {
    return;
  }
  if (config->data_dir.empty()) {
    problems->Add(issuance.KeyLine("enabled"),
                  "[issuance] enabled needs data_dir: clients, users, refresh tokens and signing "
                  "keys are kept in the write-ahead log in <data_dir>/wal and the private keys in "
                  "<data_dir>/keys; set data_dir = \"/var/lib/ringward\" at the top level "
                  "(before any [section])");
  }

  const std::vector<std::string>& verified_issuers = config->tokens.issuers;
  bool issuer_ok = true;  // so that a bad issuer is not reported again as a bad base_url
  if (is.issuer.empty()) {
    // An empty [tokens] issuers is reported by CheckCrossKeys.
    if (!verified_issuers.empty()) {
      std::string issuer = verified_issuers[0];
      const std::string problem = UrlProblem(&issuer, /*allow_path=*/true);
      if (!problem.empty()) {
        issuer_ok = false;
        problems->Add(issuance.KeyLine("issuer"),
                      absl::StrCat("[issuance] issuer is not set, so it is [tokens] issuers[0]: ",
                                   problem, "; set issuer = \"https://auth.example.com\" here and "
                                   "in [tokens] issuers"));
      }
      is.issuer = std::move(issuer);
    }
  }

  if (is.base_url.empty() && !is.issuer.empty() && issuer_ok) {
    std::string base_url = is.issuer;
    const std::string problem = UrlProblem(&base_url, /*allow_path=*/false);
    if (!problem.empty()) {
      problems->Add(issuance.KeyLine("base_url"),
                    absl::StrCat("[issuance] base_url is not set, so it is the issuer: ", problem,
                                 "; set base_url = \"https://auth.example.com\", where the "
                                 "endpoints are"));
    }
    is.base_url = std::move(base_url);
  }

  if (is.audiences.empty()) {
    is.audiences = config->tokens.audiences;
    if (is.audiences.empty()) {
      problems->Add(issuance.KeyLine("audiences"),
                    "[issuance] audiences: an issued token needs an audience, and neither "
                    "[issuance] audiences nor [tokens] audiences names one; set audiences = "
                    "[\"api.example.com\"]");
    }
  }
}

// TomlString writes |s| as a TOML basic string.
std::string TomlString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          static constexpr char kHex[] = "0123456789ABCDEF";
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

// TomlKey writes |key| bare when TOML allows it, quoted otherwise (claim names may be URIs).
std::string TomlKey(std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  return bare ? std::string(key) : TomlString(key);
}

std::string TomlStringArray(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += ", ";
    }
    out += TomlString(values[i]);
  }
  out += "]";
  return out;
}

const char* TomlBool(bool b) { return b ? "true" : "false"; }

// TomlFloat writes |d| so that TOML reads it back as a float ("0.0", not "0").
std::string TomlFloat(double d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", d);
  std::string out = text;
  if (out.find_first_of(".eEn") == std::string::npos) {
    out += ".0";
  }
  return out;
}

}  // namespace

absl::StatusOr<Config> ParseConfig(std::string_view text, const std::string& path) {
  Config config;
  config.path = AbsolutePath(path);
  const std::string base_dir = ParentDirectory(config.path);

  toml::parse_result parsed = toml::parse(text, std::string_view(path));
  if (!parsed) {
    const toml::parse_error& error = parsed.error();
    return absl::InvalidArgumentError(absl::StrCat(path, ":", error.source().begin.line, ":",
                                                   error.source().begin.column, ": ",
                                                   std::string(error.description())));
  }

  Problems problems(path);
  KnownKeys known;
  Section root(&problems, &known, "", &parsed.table(), 0);
  root.String("data_dir", &config.data_dir);
  config.data_dir = ResolvePath(base_dir, config.data_dir);

  Section server = SubSection(&root, &problems, &known, "server");
  ServerConfig& s = config.server;
  server.StringArray("listen", &s.listen, TlsListenProblem);
  server.StringArray("plain_listen", &s.plain_listen,
                     [&base_dir](std::string* v) { return PlainListenProblem(base_dir, v); });
  server.Int("shards", &s.shards, 0, 1024);
  server.Bool("pin_shards", &config.server.pin_shards);
  server.String("shard_scheduling", &s.shard_scheduling, [](std::string* v) {
    return *v == "batch" || *v == "normal"
               ? std::string()
               : absl::StrCat("must be \"batch\" (SCHED_BATCH) or \"normal\" (SCHED_OTHER), got ",
                              Quote(*v));
  });
  server.Int("max_connections_per_shard", &s.max_connections_per_shard, 1, 1 << 20);
  server.Int("header_timeout_ms", &s.header_timeout_ms, 1, kIntMax);
  server.Int("idle_timeout_ms", &s.idle_timeout_ms, 1, kIntMax);
  server.Int("shutdown_grace_ms", &s.shutdown_grace_ms, 0, kIntMax);
  server.Size("max_head_bytes", &s.max_head_bytes, 1024, 65536);
  server.Size("max_body_bytes", &s.max_body_bytes, 0, kMaxBodyBytes);
  server.Bool("metrics_on_public", &s.metrics_on_public);
  server.Fraction("access_log_sample", &s.access_log_sample);

  Section tls = SubSection(&root, &problems, &known, "tls");
  tls.String("certificate", &config.tls.certificate, ExpandCredentials);
  tls.String("private_key", &config.tls.private_key, ExpandCredentials);
  config.tls.certificate = ResolvePath(base_dir, config.tls.certificate);
  config.tls.private_key = ResolvePath(base_dir, config.tls.private_key);
  tls.Int("ticket_key_rotation_s", &config.tls.ticket_key_rotation_s, 1, 7 * 86400);

  Section tokens = SubSection(&root, &problems, &known, "tokens");
  TokensConfig& t = config.tokens;
  tokens.String("keys", &t.keys, ExpandCredentials);
  t.keys = ResolvePath(base_dir, t.keys);
  tokens.StringArray("issuers", &t.issuers, NonEmptyTextProblem);
  tokens.StringArray("audiences", &t.audiences, NonEmptyTextProblem);
  tokens.Int("leeway_s", &t.leeway_s, 0, 3600);
  tokens.Bool("access_token_profile", &t.access_token_profile);
  tokens.Size("max_token_bytes", &t.max_token_bytes, 64, 65536);
  tokens.Size("cache_entries", &t.cache_entries, 0, 1 << 24);
  tokens.Size("bulk_max_tokens", &t.bulk_max_tokens, 1, 1000000);
  ReadClaimHeaders(&tokens, &problems, &t);

  Section admin = SubSection(&root, &problems, &known, "admin");
  admin.StringArray("listen", &config.admin.listen,
                    [&base_dir](std::string* v) { return PlainListenProblem(base_dir, v); });
  admin.String("token_file", &config.admin.token_file, ExpandCredentials);
  config.admin.token_file = ResolvePath(base_dir, config.admin.token_file);

  Section revocation = SubSection(&root, &problems, &known, "revocation");
  RevocationConfig& r = config.revocation;
  revocation.Size("expected_revocations", &r.expected_revocations, 1024, int64_t{1} << 32);
  revocation.Size("segment_bytes", &r.segment_bytes, 4096, int64_t{1} << 30);
  revocation.Int("compaction_interval_s", &r.compaction_interval_s, 0, 30 * 86400);
  revocation.Int("compaction_segments", &r.compaction_segments, 0, 100000);
  revocation.Int("expire_interval_s", &r.expire_interval_s, 1, 86400);
  revocation.Size("bulk_max", &r.bulk_max, 1, 1000000);

  Section issuance = SubSection(&root, &problems, &known, "issuance");
  IssuanceConfig& is = config.issuance;
  issuance.Bool("enabled", &is.enabled);
  issuance.String("issuer", &is.issuer, IssuerUrlProblem);
  issuance.String("base_url", &is.base_url, BaseUrlProblem);
  issuance.StringArray("audiences", &is.audiences, NonEmptyTextProblem);
  issuance.String("signing_alg", &is.signing_alg, SigningAlgProblem);
  issuance.Int64("access_token_ttl_s", &is.access_token_ttl_s, 60, 86400);
  issuance.Int64OrZero("refresh_token_ttl_s", &is.refresh_token_ttl_s, 300, 31536000,
                       "no refresh tokens");
  issuance.Int64OrZero("rotation_interval_s", &is.rotation_interval_s, 3600, 315360000,
                       "rotate only on demand");
  issuance.Int64("publish_lead_s", &is.publish_lead_s, 0, 604800);
  issuance.Uint32("argon2_memory_kib", &is.argon2_memory_kib, 64, 4194304);
  issuance.Uint32("argon2_iterations", &is.argon2_iterations, 1, 64);
  issuance.Uint32("argon2_parallelism", &is.argon2_parallelism, 1, 16);
  issuance.Int("password_workers", &is.password_workers, 1, 64);
  issuance.Int("max_failures", &is.max_failures, 1, 1000);
  issuance.Int64("lockout_s", &is.lockout_s, 1, 86400);
  issuance.Int64("max_lockout_s", &is.max_lockout_s, 1, 2592000);
  issuance.Int("ip_max_failures", &is.ip_max_failures, 1, 1000000);
  issuance.Int64("ip_window_s", &is.ip_window_s, 1, 86400);
  std::vector<Section> trusted;
  ReadTrustedIssuers(&issuance, &problems, &known, base_dir, &trusted, &is.trusted_issuers);

  Section replication = SubSection(&root, &problems, &known, "replication");
  ReplicationConfig& rp = config.replication;
  replication.String("listen", &rp.listen, [](std::string* v) {
    return v->empty() ? std::string() : TlsListenProblem(v);
  });
  replication.String("credential_file", &rp.credential_file, ExpandCredentials);
  rp.credential_file = ResolvePath(base_dir, rp.credential_file);
  replication.Int("heartbeat_ms", &rp.heartbeat_ms, 20, 10000);
  replication.Int("max_followers", &rp.max_followers, 1, 1024);
  replication.String("leader", &rp.leader, LeaderUrlProblem);
  replication.String("ca_file", &rp.ca_file, ExpandCredentials);
  rp.ca_file = ResolvePath(base_dir, rp.ca_file);
  replication.Int64("max_staleness_ms", &rp.max_staleness_ms, 100, 86400000);
  replication.String("fail_mode", &rp.fail_mode, [](std::string* v) {
    return *v == "closed" || *v == "open"
               ? std::string()
               : absl::StrCat("must be \"closed\" (verify answers 503 when stale) or \"open\" "
                              "(keep serving), got ",
                              Quote(*v));
  });

  for (const Section* section :
       {&root, &server, &tls, &tokens, &admin, &revocation, &issuance, &replication}) {
    section->ReportUnknown();
  }
  for (const Section& section : trusted) {
    section.ReportUnknown();
  }
  if (problems.empty()) {
    CheckCrossKeys(config, server, tls, tokens, &problems);
    CheckAdmin(config, admin, &problems);
    CheckIssuance(&config, issuance, trusted, &problems);
    CheckReplication(config, replication, &problems);
  }
  if (!problems.empty()) {
    return problems.ToStatus();
  }
  return config;
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    const int err = errno;
    const std::string message =
        absl::StrCat("cannot read config file ", Quote(path), ": ", ErrnoText(err));
    if (err == ENOENT) {
      return absl::NotFoundError(message);
    }
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(message);
    }
    return absl::FailedPreconditionError(message);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read config file ", Quote(path), ": ", ErrnoText(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read config file ", Quote(path), ": not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxConfigBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", st.st_size,
                                                   " bytes is too large for a config file (at "
                                                   "most ",
                                                   kMaxConfigBytes, ")"));
  }
  std::string text;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read config file ", Quote(path), ": ", ErrnoText(errno)));
    }
    if (n == 0) {
      break;
    }
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": too large for a config file (at most ", kMaxConfigBytes, " bytes)"));
    }
  }
  return ParseConfig(text, path);
}

std::string RenderEffectiveConfig(const Config& config) {
  // Every value is printed as is: no key holds a secret inline today (keys and certificates are
  // files, and their paths are not secret). A future inline secret (an admin token, an HMAC
  // key) must be printed here as "<redacted>".
  const ServerConfig& s = config.server;
  const TlsConfig& tls = config.tls;
  const TokensConfig& t = config.tokens;
  std::string out;
  absl::StrAppend(&out, "# Effective ringward configuration",
                  config.path.empty() ? std::string(" (built-in defaults)")
                                      : absl::StrCat(" from ", config.path),
                  ".\n# Every key, defaults included; paths are resolved.\n");
  absl::StrAppend(&out, "data_dir = ", TomlString(config.data_dir), "\n");

  absl::StrAppend(&out, "\n[server]\n");
  absl::StrAppend(&out, "listen = ", TomlStringArray(s.listen), "\n");
  absl::StrAppend(&out, "plain_listen = ", TomlStringArray(s.plain_listen), "\n");
  absl::StrAppend(&out, "shards = ", s.shards, "\n");
  absl::StrAppend(&out, "pin_shards = ", TomlBool(config.server.pin_shards), "\n");
  absl::StrAppend(&out, "shard_scheduling = ", TomlString(s.shard_scheduling), "\n");
  absl::StrAppend(&out, "max_connections_per_shard = ", s.max_connections_per_shard, "\n");
  absl::StrAppend(&out, "header_timeout_ms = ", s.header_timeout_ms, "\n");
  absl::StrAppend(&out, "idle_timeout_ms = ", s.idle_timeout_ms, "\n");
  absl::StrAppend(&out, "shutdown_grace_ms = ", s.shutdown_grace_ms, "\n");
  absl::StrAppend(&out, "max_head_bytes = ", s.max_head_bytes, "\n");
  absl::StrAppend(&out, "max_body_bytes = ", s.max_body_bytes, "\n");
  absl::StrAppend(&out, "metrics_on_public = ", TomlBool(s.metrics_on_public), "\n");
  absl::StrAppend(&out, "access_log_sample = ", TomlFloat(s.access_log_sample), "\n");

  absl::StrAppend(&out, "\n[tls]\n");
  absl::StrAppend(&out, "certificate = ", TomlString(tls.certificate), "\n");
  absl::StrAppend(&out, "private_key = ", TomlString(tls.private_key), "\n");
  absl::StrAppend(&out, "ticket_key_rotation_s = ", tls.ticket_key_rotation_s, "\n");

  absl::StrAppend(&out, "\n[tokens]\n");
  absl::StrAppend(&out, "keys = ", TomlString(t.keys), "\n");
  absl::StrAppend(&out, "issuers = ", TomlStringArray(t.issuers), "\n");
  absl::StrAppend(&out, "audiences = ", TomlStringArray(t.audiences), "\n");
  absl::StrAppend(&out, "leeway_s = ", t.leeway_s, "\n");
  absl::StrAppend(&out, "access_token_profile = ", TomlBool(t.access_token_profile), "\n");
  absl::StrAppend(&out, "max_token_bytes = ", t.max_token_bytes, "\n");
  absl::StrAppend(&out, "cache_entries = ", t.cache_entries, "\n");
  absl::StrAppend(&out, "bulk_max_tokens = ", t.bulk_max_tokens, "\n");
  out += "claim_headers = {";
  for (size_t i = 0; i < t.claim_headers.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? ", " : " ", TomlKey(t.claim_headers[i].first), " = ",
                    TomlString(t.claim_headers[i].second));
  }
  out += t.claim_headers.empty() ? "}\n" : " }\n";

  const AdminConfig& a = config.admin;
  absl::StrAppend(&out, "\n[admin]\n");
  absl::StrAppend(&out, "listen = ", TomlStringArray(a.listen), "\n");
  absl::StrAppend(&out, "token_file = ", TomlString(a.token_file), "\n");

  const RevocationConfig& r = config.revocation;
  absl::StrAppend(&out, "\n[revocation]\n");
  absl::StrAppend(&out, "expected_revocations = ", r.expected_revocations, "\n");
  absl::StrAppend(&out, "segment_bytes = ", r.segment_bytes, "\n");
  absl::StrAppend(&out, "compaction_interval_s = ", r.compaction_interval_s, "\n");
  absl::StrAppend(&out, "compaction_segments = ", r.compaction_segments, "\n");
  absl::StrAppend(&out, "expire_interval_s = ", r.expire_interval_s, "\n");
  absl::StrAppend(&out, "bulk_max = ", r.bulk_max, "\n");

  const IssuanceConfig& is = config.issuance;
  absl::StrAppend(&out, "\n[issuance]\n");
  absl::StrAppend(&out, "enabled = ", TomlBool(is.enabled), "\n");
  absl::StrAppend(&out, "issuer = ", TomlString(is.issuer), "\n");
  absl::StrAppend(&out, "base_url = ", TomlString(is.base_url), "\n");
  absl::StrAppend(&out, "audiences = ", TomlStringArray(is.audiences), "\n");
  absl::StrAppend(&out, "signing_alg = ", TomlString(is.signing_alg), "\n");
  absl::StrAppend(&out, "access_token_ttl_s = ", is.access_token_ttl_s, "\n");
  absl::StrAppend(&out, "refresh_token_ttl_s = ", is.refresh_token_ttl_s, "\n");
  absl::StrAppend(&out, "rotation_interval_s = ", is.rotation_interval_s, "\n");
  absl::StrAppend(&out, "publish_lead_s = ", is.publish_lead_s, "\n");
  absl::StrAppend(&out, "argon2_memory_kib = ", is.argon2_memory_kib, "\n");
  absl::StrAppend(&out, "argon2_iterations = ", is.argon2_iterations, "\n");
  absl::StrAppend(&out, "argon2_parallelism = ", is.argon2_parallelism, "\n");
  absl::StrAppend(&out, "password_workers = ", is.password_workers, "\n");
  absl::StrAppend(&out, "max_failures = ", is.max_failures, "\n");
  absl::StrAppend(&out, "lockout_s = ", is.lockout_s, "\n");
  absl::StrAppend(&out, "max_lockout_s = ", is.max_lockout_s, "\n");
  absl::StrAppend(&out, "ip_max_failures = ", is.ip_max_failures, "\n");
  absl::StrAppend(&out, "ip_window_s = ", is.ip_window_s, "\n");
  // An array of tables cannot be empty in [[...]] form; the inline form says "none".
  if (is.trusted_issuers.empty()) {
    absl::StrAppend(&out, "trusted_issuers = []\n");
  }
  for (const TrustedIssuerConfig& t : is.trusted_issuers) {
    absl::StrAppend(&out, "\n[[issuance.trusted_issuers]]\n");
    absl::StrAppend(&out, "issuer = ", TomlString(t.issuer), "\n");
    absl::StrAppend(&out, "jwks = ", TomlString(t.jwks), "\n");
    absl::StrAppend(&out, "jwks_url = ", TomlString(t.jwks_url), "\n");
    absl::StrAppend(&out, "ca_file = ", TomlString(t.ca_file), "\n");
    absl::StrAppend(&out, "jwks_refresh_s = ", t.jwks_refresh_s, "\n");
    absl::StrAppend(&out, "jwks_min_refresh_s = ", t.jwks_min_refresh_s, "\n");
    absl::StrAppend(&out, "audiences = ", TomlStringArray(t.audiences), "\n");
    absl::StrAppend(&out, "subject_prefix = ", TomlString(t.subject_prefix), "\n");
    absl::StrAppend(&out, "scopes = ", TomlStringArray(t.scopes), "\n");
  }
  const ReplicationConfig& rp = config.replication;
  absl::StrAppend(&out, "\n[replication]\n");
  absl::StrAppend(&out, "listen = ", TomlString(rp.listen), "\n");
  absl::StrAppend(&out, "credential_file = ", TomlString(rp.credential_file), "\n");
  absl::StrAppend(&out, "heartbeat_ms = ", rp.heartbeat_ms, "\n");
  absl::StrAppend(&out, "max_followers = ", rp.max_followers, "\n");
  absl::StrAppend(&out, "leader = ", TomlString(rp.leader), "\n");
  absl::StrAppend(&out, "ca_file = ", TomlString(rp.ca_file), "\n");
  absl::StrAppend(&out, "max_staleness_ms = ", rp.max_staleness_ms, "\n");
  absl::StrAppend(&out, "fail_mode = ", TomlString(rp.fail_mode), "\n");
  return out;
}

}  // namespace ringward::config
