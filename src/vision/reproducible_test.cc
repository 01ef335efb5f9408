// `unibus train` gives the same bytes whatever CPU kernels the host would pick: each
// run below asks LibTorch's libraries for other kernels through their environment
// variables, as a machine with other instruction sets would get by default.
#include "vision/reproducible.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace unibus::vision {
namespace {

using ::testing::HasSubstr;

// What a host of each kind picks when nothing is pinned (AVX-512 server, old desktop).
constexpr char kWideIsa[] =
    "ATEN_CPU_CAPABILITY=avx512 DNNL_MAX_CPU_ISA=AVX512_CORE ONEDNN_MAX_CPU_ISA=AVX512_CORE "
    "OPENBLAS_CORETYPE=SkylakeX";
constexpr char kNarrowIsa[] =
    "ATEN_CPU_CAPABILITY=default DNNL_MAX_CPU_ISA=SSE41 ONEDNN_MAX_CPU_ISA=SSE41 "
    "OPENBLAS_CORETYPE=Sandybridge";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class ReproducibleTrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("reproducible_test_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Trains one small epoch into dir_/NAME/m.pt (same file name, so the archive's
  // internal prefix is the same) and returns the file's bytes.
  std::string Train(const std::string& name, const std::string& env, const std::string& flags) {
    const std::filesystem::path out = dir_ / name;
    std::filesystem::create_directories(out);
    const std::string cmd =
        absl::StrCat("env ", env, " ", UNIBUS_CLI_PATH, " train ", flags,
                     " --epochs 1 --train-limit 384 --test-limit 256 --seed 7 --threads 1",
                     " --data ", UNIBUS_FASHION_MNIST_DIR, " --out ", (out / "m.pt").string(),
                     " > ", (out / "log").string(), " 2>&1");
    const int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << cmd << "\n" << ReadFile(out / "log");
    card_ = ReadFile(out / "m.json");
    return ReadFile(out / "m.pt");
  }

  std::filesystem::path dir_;
  std::string card_;
};

TEST_F(ReproducibleTrainingTest, PinnedTrainingGivesTheSameBytesWhateverTheHostIsa) {
  ASSERT_TRUE(CpuSupportsPinnedKernels()) << "the pinned kernels need AVX2 and FMA";
  const std::string host = Train("host", "", "");
  EXPECT_THAT(card_, HasSubstr("aten=avx2 openblas=Haswell onednn=cpu_isa_avx2"));
  ASSERT_GT(host.size(), 100000u);
  EXPECT_TRUE(Train("wide", kWideIsa, "") == host) << "AVX-512 settings changed the weights";
  EXPECT_THAT(card_, HasSubstr("aten=avx2 openblas=Haswell onednn=cpu_isa_avx2"));
  EXPECT_TRUE(Train("narrow", kNarrowIsa, "") == host) << "SSE4.1 settings changed the weights";
}

// The control: without pinning, the same settings do change the weights, so the test
// above would catch a pin that stopped working.
TEST_F(ReproducibleTrainingTest, UnpinnedTrainingFollowsTheHostIsa) {
  const std::string pinned = Train("pinned", "", "");
  const std::string narrow = Train("narrow", kNarrowIsa, "--native-cpu");
  EXPECT_THAT(card_, HasSubstr("aten=default openblas=Sandybridge onednn=cpu_isa_sse41"));
  EXPECT_FALSE(narrow == pinned);
}

TEST(CpuEnvironmentTest, PinnedOnlyWhenEveryVariableHasItsValue) {
  for (const auto& [name, value] : PinnedCpuEnvironment()) setenv(name.c_str(), value.c_str(), 1);
  EXPECT_TRUE(CpuEnvironmentPinned());
  setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  EXPECT_FALSE(CpuEnvironmentPinned());
  unsetenv("OPENBLAS_CORETYPE");
  EXPECT_FALSE(CpuEnvironmentPinned());
}

}  // namespace
}  // namespace unibus::vision
