// testing/temp_dir.h: a temporary directory for one test, removed with everything in it.
//
// Created under $TEST_TMPDIR (or /tmp) with mkdtemp. Thread-compatible; owns the directory.
#ifndef RINGWARD_TESTS_TESTING_TEMP_DIR_H_
#define RINGWARD_TESTS_TESTING_TEMP_DIR_H_

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace ringward::test {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/ringward_test.XXXXXX";
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ringward::test

#endif  // RINGWARD_TESTS_TESTING_TEMP_DIR_H_
