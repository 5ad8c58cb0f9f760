// ringward/revocation/wal_tools.h: the library behind `ringward wal dump DIR` and
// `ringward wal repair DIR`.
//
// DumpWal only reads (it takes no lock and changes nothing, so it may run beside a live
// server). RepairWal changes the log and takes its lock: the server must be stopped.
// Thread-compatible: plain functions with no shared state.
#ifndef RINGWARD_REVOCATION_WAL_TOOLS_H_
#define RINGWARD_REVOCATION_WAL_TOOLS_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringward/revocation/wal_file_layer.h"

namespace ringward::revocation {

struct WalDumpOptions {
  // type_name names a record type for the reader ("revoke_jti"); empty means unknown and the
  // number alone is printed. May be empty.
  std::function<std::string(uint16_t type)> type_name;
  // preview_bytes: how much of each payload to print (escaped: printable ASCII as is, other
  // bytes as \xNN).
  size_t preview_bytes = 48;
};

// DumpWal prints the snapshot and every segment of the log in |dir| to |out|, one line per
// record (LSN, type, payload size, preview), then a summary. It stops at the first damage and
// returns it (DataLoss naming the file and offset); a torn tail is printed and is not an error.
// |files| defaults to PosixFileLayer::Default().
absl::Status DumpWal(const std::string& dir, std::FILE* out, const WalDumpOptions& options = {},
                     FileLayer* files = nullptr);

// WalRepairReport says what RepairWal did.
struct WalRepairReport {
  bool repaired = false;             // false: no damage was found, nothing changed
  std::string segment;               // the damaged segment's file name
  uint64_t offset = 0;               // where it was cut (0: removed whole)
  uint64_t last_lsn = 0;             // the last LSN kept
  uint64_t bytes_removed = 0;        // from the damaged segment and the segments after it
  std::vector<std::string> backups;  // .bak files holding everything that was removed
  std::string torn_tail;             // when not repaired: a torn tail that the next Open will cut

  std::string ToString() const;
};

// RepairWal finds the first damage in the log in |dir| (what makes WriteAheadLog::Open fail
// with DataLoss), copies the damaged segment to "<name>.bak", cuts it at the damage, and
// renames every later segment to "<name>.bak" (their LSNs would follow a gap). Records after
// the cut are lost unless a follower has them. A damaged snapshot, an unsupported format
// version or a gap before the first segment cannot be repaired and are returned as errors.
absl::StatusOr<WalRepairReport> RepairWal(const std::string& dir, FileLayer* files = nullptr);

}  // namespace ringward::revocation

#endif  // RINGWARD_REVOCATION_WAL_TOOLS_H_
