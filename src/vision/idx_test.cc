#include "vision/idx.h"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/largest_allocation.h"

namespace unibus::vision {
namespace {

using ::testing::HasSubstr;

std::vector<std::uint8_t> BigEndian(std::initializer_list<std::uint32_t> words) {
  std::vector<std::uint8_t> out;
  for (std::uint32_t w : words) {
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<std::uint8_t>(w >> shift));
  }
  return out;
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("idx_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteGz(const std::string& name, const std::vector<std::uint8_t>& bytes) {
    const std::string path = (dir_ / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (!bytes.empty()) {
      EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
                static_cast<int>(bytes.size()));
    }
    gzclose(f);
    return path;
  }

  // `count` images of rows x cols whose pixel k of image i is (i + k) % 256.
  static std::vector<std::uint8_t> Images(std::uint32_t count, std::uint32_t rows,
                                          std::uint32_t cols, std::uint32_t magic = 0x803) {
    std::vector<std::uint8_t> out = BigEndian({magic, count, rows, cols});
    for (std::uint32_t i = 0; i < count; ++i) {
      for (std::uint32_t k = 0; k < rows * cols; ++k)
        out.push_back(static_cast<std::uint8_t>(i + k));
    }
    return out;
  }

  static std::vector<std::uint8_t> Labels(std::vector<std::uint8_t> labels) {
    std::vector<std::uint8_t> out = BigEndian({0x801, static_cast<std::uint32_t>(labels.size())});
    out.insert(out.end(), labels.begin(), labels.end());
    return out;
  }

  std::filesystem::path dir_;
};

TEST_F(IdxTest, ReadsGoodFiles) {
  const std::string images = WriteGz("train-images-idx3-ubyte.gz", Images(3, 28, 28));
  WriteGz("train-labels-idx1-ubyte.gz", Labels({9, 0, 4}));
  absl::StatusOr<IdxImages> read = ReadIdxImages(images);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->count, 3u);
  EXPECT_EQ(read->rows, 28u);
  EXPECT_EQ(read->cols, 28u);
  ASSERT_EQ(read->pixels.size(), 3u * 784);
  EXPECT_EQ(read->pixels[784 + 5], 6);

  absl::StatusOr<Dataset> data = LoadFashionMnist(dir_.string(), Split::kTrain);
  ASSERT_TRUE(data.ok()) << data.status();
  ASSERT_EQ(data->size(), 3u);
  EXPECT_EQ(data->labels, (std::vector<std::uint8_t>{9, 0, 4}));
  EXPECT_EQ(data->image(2)[0], 2);
  EXPECT_EQ(data->image(2)[783], static_cast<std::uint8_t>(2 + 783));
}

TEST_F(IdxTest, ReadsPlainUncompressedFile) {
  const std::string path = (dir_ / "plain").string();
  const std::vector<std::uint8_t> bytes = Labels({1, 2});
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  absl::StatusOr<std::vector<std::uint8_t>> labels = ReadIdxLabels(path);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(*labels, (std::vector<std::uint8_t>{1, 2}));
}

TEST_F(IdxTest, BadMagicNamesFileAndMagic) {
  const std::string path = WriteGz("x.gz", Images(2, 28, 28, /*magic=*/0x801));
  absl::StatusOr<IdxImages> read = ReadIdxImages(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
  EXPECT_THAT(read.status().message(), HasSubstr("magic number 0x00000801"));
  // A labels file read as labels is fine, an images file read as labels is not.
  EXPECT_EQ(ReadIdxLabels(WriteGz("y.gz", Images(1, 2, 2))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(IdxTest, TruncatedDataIsDataLoss) {
  std::vector<std::uint8_t> bytes = Images(4, 28, 28);
  bytes.resize(bytes.size() - 100);
  const std::string path = WriteGz("t.gz", bytes);
  absl::StatusOr<IdxImages> read = ReadIdxImages(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(), HasSubstr(path));
  EXPECT_THAT(read.status().message(), HasSubstr("truncated"));
}

TEST_F(IdxTest, TruncatedHeaderIsDataLoss) {
  const std::string path = WriteGz("h.gz", {0, 0, 8});
  absl::StatusOr<IdxImages> read = ReadIdxImages(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(), HasSubstr("magic number"));
}

TEST_F(IdxTest, TrailingBytesAreDataLoss) {
  std::vector<std::uint8_t> bytes = Labels({1, 2, 3});
  bytes.push_back(7);
  absl::StatusOr<std::vector<std::uint8_t>> read = ReadIdxLabels(WriteGz("l.gz", bytes));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(), HasSubstr("after the data"));
}

TEST_F(IdxTest, CorruptGzipIsDataLoss) {
  const std::string good = WriteGz("c.gz", Images(50, 28, 28));
  std::FILE* f = std::fopen(good.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 200, SEEK_SET);  // inside the deflate stream
  const char garbage[64] = "this is not deflate data at all, not at all, no, not at all..";
  std::fwrite(garbage, 1, sizeof garbage, f);
  std::fclose(f);
  absl::StatusOr<IdxImages> read = ReadIdxImages(good);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(), HasSubstr(good));
}

TEST_F(IdxTest, ImplausibleHeaderIsRejectedWithoutAllocating) {
  const std::string path = WriteGz("big.gz", BigEndian({0x803, 0xffffffffu, 28, 28}));
  absl::StatusOr<IdxImages> read = ReadIdxImages(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr("too many"));
}

TEST_F(IdxTest, LyingHeaderCostsNoMoreThanTheBytesInTheFile) {
  // 1000 images of 1000x1000 (1e9 bytes, under the 1 GiB cap) announced by a 16-byte
  // file: refused as truncated, without allocating what the header claims.
  const std::vector<std::uint8_t> header = BigEndian({0x803, 1000, 1000, 1000});
  const std::string gz = WriteGz("lie.gz", header);
  const std::string plain = (dir_ / "lie").string();
  std::FILE* f = std::fopen(plain.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(header.data(), 1, header.size(), f);
  std::fclose(f);
  for (const std::string& path : {gz, plain}) {
    absl::StatusOr<IdxImages> read;
    const std::size_t largest =
        alloc_testing::LargestAllocationDuring([&] { read = ReadIdxImages(path); });
    ASSERT_FALSE(read.ok()) << path;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(read.status().message(), HasSubstr("truncated"));
    EXPECT_LT(largest, std::size_t{1} << 20) << path;
  }
  // The same for labels.
  const std::string labels = WriteGz("labels.gz", BigEndian({0x801, 1000000000}));
  absl::StatusOr<std::vector<std::uint8_t>> read;
  const std::size_t largest =
      alloc_testing::LargestAllocationDuring([&] { read = ReadIdxLabels(labels); });
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_LT(largest, std::size_t{1} << 20);
}

TEST_F(IdxTest, DimensionsWhoseProductWrapsAreRejected) {
  // 4 * 2^31 * 2^31 is 2^64: it wrapped to 0 bytes, and the reader returned "4 images
  // of 2147483648x2147483648" with no pixels.
  const std::string path = WriteGz("wrap.gz", BigEndian({0x803, 4, 0x80000000u, 0x80000000u}));
  absl::StatusOr<IdxImages> read = ReadIdxImages(path);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(read.status().message(), HasSubstr("too many"));
  // A count of 0 with huge images is no data at all, and still refused.
  read = ReadIdxImages(WriteGz("zero.gz", BigEndian({0x803, 0, 0xffffffffu, 0xffffffffu})));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(IdxTest, PlainFileLengthIsCheckedAgainstTheHeader) {
  std::vector<std::uint8_t> bytes = Images(2, 3, 3);
  bytes.push_back(1);
  const std::string path = (dir_ / "plain-extra").string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  absl::StatusOr<IdxImages> read = ReadIdxImages(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(read.status().message(), HasSubstr("after the data"));
}

TEST_F(IdxTest, CountMismatchBetweenImagesAndLabels) {
  WriteGz("t10k-images-idx3-ubyte.gz", Images(3, 28, 28));
  const std::string labels = WriteGz("t10k-labels-idx1-ubyte.gz", Labels({1, 2}));
  absl::StatusOr<Dataset> data = LoadFashionMnist(dir_.string(), Split::kTest);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(), HasSubstr(labels));
  EXPECT_THAT(data.status().message(), HasSubstr("2 labels but"));
}

TEST_F(IdxTest, WrongImageSizeAndBadLabelAreRejected) {
  WriteGz("t10k-images-idx3-ubyte.gz", Images(2, 32, 32));
  WriteGz("t10k-labels-idx1-ubyte.gz", Labels({1, 2}));
  absl::StatusOr<Dataset> data = LoadFashionMnist(dir_.string(), Split::kTest);
  ASSERT_FALSE(data.ok());
  EXPECT_THAT(data.status().message(), HasSubstr("32x32, expected 28x28"));

  WriteGz("t10k-images-idx3-ubyte.gz", Images(2, 28, 28));
  WriteGz("t10k-labels-idx1-ubyte.gz", Labels({1, 10}));
  data = LoadFashionMnist(dir_.string(), Split::kTest);
  ASSERT_FALSE(data.ok());
  EXPECT_THAT(data.status().message(), HasSubstr("label 10 at index 1"));
}

TEST_F(IdxTest, MissingFileIsNotFound) {
  absl::StatusOr<Dataset> data = LoadFashionMnist((dir_ / "nowhere").string(), Split::kTrain);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(data.status().message(), HasSubstr("nowhere/train-images-idx3-ubyte.gz"));
  EXPECT_THAT(data.status().message(), HasSubstr("--data"));
}

TEST(ClassNames, TableAndBounds) {
  EXPECT_EQ(ClassName(0), "T-shirt/top");
  EXPECT_EQ(ClassName(9), "Ankle boot");
  EXPECT_EQ(ClassName(10), "unknown");
  EXPECT_EQ(ClassName(-1), "unknown");
}

}  // namespace
}  // namespace unibus::vision
