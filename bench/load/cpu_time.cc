#include "load/cpu_time.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace ringward::load {

absl::StatusOr<unsigned long long> ParseProcStatCpuTicks(std::string_view stat) {
  const size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos) {
    return absl::InvalidArgumentError("no ')' in /proc stat text");
  }
  // After ") " comes field 3 (state); utime and stime are fields 14 and 15.
  std::string_view rest = stat.substr(paren + 1);
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  int field = 2;
  size_t i = 0;
  while (i < rest.size() && field < 15) {
    while (i < rest.size() && rest[i] == ' ') {
      ++i;
    }
    const size_t start = i;
    while (i < rest.size() && rest[i] != ' ' && rest[i] != '\n') {
      ++i;
    }
    if (start == i) {
      break;
    }
    ++field;
    if (field == 14 || field == 15) {
      unsigned long long v = 0;
      for (size_t k = start; k < i; ++k) {
        if (rest[k] < '0' || rest[k] > '9') {
          return absl::InvalidArgumentError("non-numeric utime/stime in /proc stat text");
        }
        v = v * 10 + static_cast<unsigned long long>(rest[k] - '0');
      }
      (field == 14 ? utime : stime) = v;
    }
  }
  if (field < 15) {
    return absl::InvalidArgumentError("/proc stat text too short");
  }
  return utime + stime;
}

absl::StatusOr<double> ProcessesCpuSeconds(const std::vector<int>& pids) {
  const long hz = sysconf(_SC_CLK_TCK);
  unsigned long long ticks = 0;
  for (int pid : pids) {
    const std::string path = absl::StrCat("/proc/", pid, "/stat");
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      return absl::NotFoundError(absl::StrCat("--server-pid ", pid, ": cannot read ", path));
    }
    absl::StatusOr<unsigned long long> t = ParseProcStatCpuTicks(text.str());
    if (!t.ok()) {
      return absl::InternalError(absl::StrCat(path, ": ", t.status().message()));
    }
    ticks += *t;
  }
  return static_cast<double>(ticks) / static_cast<double>(hz > 0 ? hz : 100);
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace ringward::load
