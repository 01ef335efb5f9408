#include <gtest/gtest.h>

#include "core/url.h"
#include "pubsub/connection.h"

namespace unibus::pubsub_internal {
namespace {

TEST(ParseEndpointTest, ErrorsNeverEchoASecret) {
  for (const char* url : {"pubsub://my-project?emulator=127.0.0.1:1&token=hunter2",
                          "pubsub://my-project?emulator=127.0.0.1:1&streams=0&pass%77ord=hunter2",
                          "pubsub://my-project?ordering=maybe&api_key=hunter2"}) {
    auto parsed = core_internal::ParseUrl(url);
    ASSERT_TRUE(parsed.ok()) << url;
    auto e = ParseEndpoint(*parsed);
    ASSERT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_EQ(e.status().message().find("hunter2"), std::string::npos) << e.status();
  }
}

}  // namespace
}  // namespace unibus::pubsub_internal
