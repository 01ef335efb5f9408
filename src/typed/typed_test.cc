#include "unibus/typed.h"

#include <gtest/gtest.h>

#include "testing/largest_allocation.h"
#include "vision.pb.h"
#include "zstd.h"

namespace unibus {
namespace {

vision::ImageMessage Image(const std::string& id, int size = 784) {
  vision::ImageMessage img;
  img.set_image_id(id);
  img.set_width(28);
  img.set_height(28);
  img.set_pixels(std::string(size, '\x07'));
  img.set_label(3);
  return img;
}

TEST(TypedCodecTest, BinaryRoundTripWithAttributes) {
  auto m = EncodeTyped(Image("img-1"), TypedOptions{.compress_above = 0}, "img-1", {{"x", "y"}});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->attribute(kContentType), kProtobufContentType);
  EXPECT_EQ(m->attribute(kTypeAttribute), "unibus.vision.ImageMessage");
  EXPECT_EQ(m->attribute(kEncodingAttribute), "");
  EXPECT_EQ(m->attribute("x"), "y");
  EXPECT_EQ(m->attribute(kTraceparentAttribute).size(), 55u);
  EXPECT_FALSE(m->attribute(kProducedAtAttribute).empty());
  EXPECT_EQ(m->ordering_key, "img-1");
  vision::ImageMessage out;
  ASSERT_TRUE(DecodeTyped(*m, &out).ok());
  EXPECT_EQ(out.image_id(), "img-1");
  EXPECT_EQ(out.label(), 3);
}

TEST(TypedCodecTest, ZstdAboveThresholdAndJson) {
  auto z = EncodeTyped(Image("img-2", 100000), TypedOptions{.compress_above = 1000});
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->attribute(kEncodingAttribute), "zstd");
  EXPECT_LT(z->data.size(), 10000u);
  vision::ImageMessage out;
  ASSERT_TRUE(DecodeTyped(*z, &out).ok());
  EXPECT_EQ(out.pixels().size(), 100000u);

  auto j = EncodeTyped(Image("img-3"), TypedOptions{.json = true, .compress_above = 0});
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->attribute(kContentType), kJsonContentType);
  EXPECT_NE(j->data.find("\"imageId\":\"img-3\""), std::string::npos);
  ASSERT_TRUE(DecodeTyped(*j, &out).ok());
  EXPECT_EQ(out.image_id(), "img-3");
}

TEST(TypedCodecTest, JsonTypedByAPersonIsAccepted) {
  Message m = MessageBuilder{}
                  .data(R"({"imageId":"hand-1","width":28,"height":28,"label":2})")
                  .attribute(kContentType, kJsonContentType)
                  .build();
  vision::ImageMessage out;
  ASSERT_TRUE(DecodeTyped(m, &out).ok());
  EXPECT_EQ(out.image_id(), "hand-1");
}

TEST(TypedCodecTest, BadInputSaysWhatIsWrong) {
  vision::ImageMessage out;
  auto pred = EncodeTyped(vision::Prediction(), TypedOptions{});
  ASSERT_TRUE(pred.ok());
  auto s = DecodeTyped(*pred, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("wrong message type: got unibus.vision.Prediction"),
            std::string::npos);

  s = DecodeTyped(MessageBuilder{}.data("\xff\xff\xff garbage").build(), &out);
  EXPECT_NE(s.message().find("does not parse"), std::string::npos) << s;

  s = DecodeTyped(
      MessageBuilder{}.data("{not json").attribute(kContentType, kJsonContentType).build(), &out);
  EXPECT_NE(s.message().find("JSON payload is not a valid"), std::string::npos) << s;

  s = DecodeTyped(MessageBuilder{}.data("xx").attribute(kEncodingAttribute, "zstd").build(), &out);
  EXPECT_NE(s.message().find("zstd"), std::string::npos) << s;

  s = DecodeTyped(MessageBuilder{}.data("xx").attribute(kContentType, "text/plain").build(), &out);
  EXPECT_NE(s.message().find("unsupported content-type"), std::string::npos) << s;
}

// A zstd frame header alone (13 bytes): magic, descriptor (8-byte content size, single
// segment), the declared content size; no blocks.
std::string FrameDeclaring(std::uint64_t size) {
  std::string f("\x28\xB5\x2F\xFD\xE0", 5);
  for (int i = 0; i < 8; ++i) f.push_back(static_cast<char>(size >> (8 * i)));
  return f;
}

absl::Status DecodeZstd(const std::string& payload) {
  vision::ImageMessage out;
  return DecodeTyped(MessageBuilder{}.data(payload).attribute(kEncodingAttribute, "zstd").build(),
                     &out);
}

// zstd with no content size in the frame header (as streaming compressors write it).
std::string CompressWithoutSize(const std::string& data) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  std::string z(ZSTD_compressBound(data.size()), '\0');
  const std::size_t n = ZSTD_compress2(c, z.data(), z.size(), data.data(), data.size());
  ZSTD_freeCCtx(c);
  EXPECT_FALSE(ZSTD_isError(n));
  z.resize(n);
  EXPECT_EQ(ZSTD_getFrameContentSize(z.data(), z.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  return z;
}

TEST(TypedCodecTest, ZstdBombIsRefusedBeforeAllocating) {
  // 200 MiB declared in 13 bytes: refused from the header, naming both numbers.
  absl::Status s;
  std::size_t largest =
      alloc_testing::LargestAllocationDuring([&] { s = DecodeZstd(FrameDeclaring(200u << 20)); });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("declares 209715200 bytes"), std::string::npos) << s;
  EXPECT_NE(s.message().find("limit of 10485760 bytes"), std::string::npos) << s;
  EXPECT_LT(largest, std::size_t{1} << 20);

  // Over 256 MiB used to be "not a valid zstd frame".
  s = DecodeZstd(FrameDeclaring(std::uint64_t{1} << 40));
  EXPECT_NE(s.message().find("declares 1099511627776 bytes"), std::string::npos) << s;

  // Exactly the limit, declared by 13 bytes that hold nothing: the decoder's output
  // follows the bytes really decoded, not the claim.
  largest = alloc_testing::LargestAllocationDuring(
      [&] { s = DecodeZstd(FrameDeclaring(kMaxDecompressedBytes)); });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s;
  EXPECT_LT(largest, std::size_t{1} << 20);
}

TEST(TypedCodecTest, ZstdWithoutDeclaredSizeIsBoundedByTheLimit) {
  // A real frame without a content size: accepted below the limit...
  vision::ImageMessage img = Image("big", 1 << 20);
  std::string z = CompressWithoutSize(img.SerializeAsString());
  vision::ImageMessage out;
  ASSERT_TRUE(
      DecodeTyped(MessageBuilder{}.data(z).attribute(kEncodingAttribute, "zstd").build(), &out)
          .ok());
  EXPECT_EQ(out.pixels().size(), std::size_t{1} << 20);

  // ...and stopped at it, never allocating past it.
  const std::string bomb = CompressWithoutSize(std::string(kMaxDecompressedBytes + 1, 'a'));
  absl::Status s;
  const std::size_t largest = alloc_testing::LargestAllocationDuring([&] { s = DecodeZstd(bomb); });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("more than the limit of 10485760 bytes"), std::string::npos) << s;
  EXPECT_LE(largest, kMaxDecompressedBytes + 1);  // + std::string's terminating NUL
}

TEST(TypedCodecTest, CorruptZstdIsRefused) {
  vision::ImageMessage img = Image("x", 100000);
  auto z = EncodeTyped(img, TypedOptions{.compress_above = 1000});
  ASSERT_TRUE(z.ok());
  std::string truncated = z->data.substr(0, z->data.size() / 2);
  EXPECT_NE(DecodeZstd(truncated).message().find("truncated"), std::string::npos);
  std::string garbage = z->data;
  garbage[garbage.size() / 2] ^= 0x55;
  garbage[garbage.size() / 2 + 1] ^= 0x55;
  EXPECT_EQ(DecodeZstd(garbage).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(DecodeZstd("not zstd at all").message().find("not a zstd frame"), std::string::npos);
}

TEST(TypedCodecTest, FramesDeclaringZeroBytesEndAndConcatenatedFramesAddUp) {
  // Found by fuzz_typed (fuzz/corpus/typed/zero_size_frames): a frame declaring 0
  // bytes, then a truncated frame; the output buffer started at 0 bytes and never grew,
  // so decoding looped forever.
  const std::string fuzzed(
      "\x28\xb5\x2f\xfd\xe0\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00"
      "\x28\xb5\x2f\xfd\xe0\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x28\xb5",
      34);
  EXPECT_EQ(DecodeZstd(fuzzed).code(), absl::StatusCode::kInvalidArgument);
  // An empty frame followed by a real one decodes to the real one's bytes.
  vision::ImageMessage img = Image("two-frames", 5000);
  const std::string plain = img.SerializeAsString();
  std::string empty(ZSTD_compressBound(0), '\0');
  empty.resize(ZSTD_compress(empty.data(), empty.size(), "", 0, 1));
  std::string full(ZSTD_compressBound(plain.size()), '\0');
  full.resize(ZSTD_compress(full.data(), full.size(), plain.data(), plain.size(), 1));
  vision::ImageMessage out;
  ASSERT_TRUE(
      DecodeTyped(MessageBuilder{}.data(empty + full).attribute(kEncodingAttribute, "zstd").build(),
                  &out)
          .ok());
  EXPECT_EQ(out.image_id(), "two-frames");
}

TEST(TypedPubSubTest, PublishManyKeepsOrderAndKeys) {
  auto broker = Broker::Open("mem://typed-many");
  ASSERT_TRUE(broker.ok());
  ASSERT_TRUE(broker->admin().CreateTopic("images").ok());
  auto sub = broker->subscriber("reader", {.topic = "images", .start = StartPosition::kEarliest});
  auto raw = broker->publisher("images");
  ASSERT_TRUE(sub.ok() && raw.ok());
  TypedPublisher<vision::ImageMessage> typed(*raw);
  auto fs = typed.PublishMany({Image("a"), Image("b"), Image("c")}, {"ka", "kb", "kc"});
  ASSERT_EQ(fs.size(), 3u);
  for (auto& f : fs) ASSERT_TRUE(f.get().ok()) << f.get().status();
  TypedSubscriber<vision::ImageMessage> ts(*sub);
  std::vector<std::string> got;
  for (int i = 0; i < 50 && got.size() < 3; ++i) {
    auto batch = ts.Pull(10, absl::Milliseconds(100));
    ASSERT_TRUE(batch.ok());
    for (auto& t : *batch) {
      got.push_back(t.value.image_id() + "/" + t.envelope.ordering_key);
      std::move(t.ack).ack();
    }
  }
  EXPECT_EQ(got, (std::vector<std::string>{"a/ka", "b/kb", "c/kc"}));
  // Keys must be none or one per value.
  auto bad = typed.PublishMany({Image("d"), Image("e")}, {"only-one"});
  ASSERT_EQ(bad.size(), 2u);
  for (auto& f : bad) {
    EXPECT_EQ(f.get().status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(f.get().status().message().find("1 ordering keys for 2 values"), std::string::npos)
        << f.get().status();
  }
}

TEST(TypedPubSubTest, WrongTypeIsDeadLetteredAndTheConsumerGoesOn) {
  auto broker = Broker::Open("mem://typed-test");
  ASSERT_TRUE(broker.ok());
  ASSERT_TRUE(broker->admin().CreateTopic("images").ok());
  ASSERT_TRUE(broker->admin().CreateTopic("images.dlq").ok());
  auto dlq =
      broker->subscriber("dlq-reader", {.topic = "images.dlq", .start = StartPosition::kEarliest});
  SubscriberOptions o{.topic = "images", .start = StartPosition::kEarliest};
  o.dead_letter_topic = "images.dlq";
  auto sub = broker->subscriber("classifier", o);
  auto raw = broker->publisher("images");
  ASSERT_TRUE(dlq.ok() && sub.ok() && raw.ok());
  TypedPublisher<vision::ImageMessage> typed(*raw);
  ASSERT_TRUE(raw->Publish(MessageBuilder{}.data("not a protobuf \xff").build()).get().ok());
  ASSERT_TRUE(typed.Publish(Image("good")).get().ok());
  TypedSubscriber<vision::ImageMessage> ts(*sub);
  std::vector<std::string> ids;
  for (int i = 0; i < 20 && ids.empty(); ++i) {
    auto got = ts.Pull(10, absl::Milliseconds(100));
    ASSERT_TRUE(got.ok());
    for (auto& t : *got) {
      ids.push_back(t.value.image_id());
      std::move(t.ack).ack();
    }
  }
  EXPECT_EQ(ids, std::vector<std::string>{"good"});
  std::vector<Message> dead;
  for (int i = 0; i < 50 && dead.empty(); ++i) {
    auto got = dlq->Pull(10, absl::Milliseconds(100));
    ASSERT_TRUE(got.ok());
    for (auto& p : *got) {
      dead.push_back(p.message);
      std::move(p.ack).ack();
    }
  }
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].attribute(kDeadLetterReason).find("does not parse"), std::string::npos);
}

}  // namespace
}  // namespace unibus
