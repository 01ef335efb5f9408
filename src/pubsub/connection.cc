#include "pubsub/connection.h"

#include <cstdlib>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace unibus::pubsub_internal {
namespace {

constexpr char kGoogleEndpoint[] = "pubsub.googleapis.com:443";

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // Pub/Sub messages reach 10 MB; responses carry many
  args.SetMaxSendMessageSize(-1);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a channel of its own
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetUserAgentPrefix("unibus");
  return args;
}

std::string WhatToDo(const Endpoint& e) {
  if (e.emulator) {
    return absl::StrCat(
        "is the Pub/Sub emulator running there? start it (gcloud beta emulators pubsub start "
        "--host-port=",
        e.address, ") or point PUBSUB_EMULATOR_HOST at the one you run");
  }
  return absl::StrCat("check network access to ", e.address,
                      ", or set PUBSUB_EMULATOR_HOST=HOST:PORT to use the Pub/Sub emulator");
}

// gRPC 1.51 runs callback-API completions on a process-wide polling queue that it
// creates when the first channel uses the callback API and tears down when the
// last such channel goes away. Publishers come and go (and each has a channel), so
// that queue would be torn down and rebuilt over and over, which crashes gRPC's
// "nexting" threads. One channel that used the callback API and is never
// destroyed keeps the queue alive for the life of the process.
void KeepCallbackQueueAlive() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Deliberately leaked: they must outlive every other channel.
    auto* channel = new std::shared_ptr<grpc::Channel>(
        grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
    auto* stub = google::pubsub::v1::Publisher::NewStub(*channel).release();
    auto* ctx = new grpc::ClientContext;
    ctx->set_deadline(std::chrono::system_clock::now());
    auto* req = new google::pubsub::v1::GetTopicRequest;
    auto* resp = new google::pubsub::v1::Topic;
    stub->async()->GetTopic(ctx, req, resp, [](grpc::Status) {});
  });
}

}  // namespace

absl::Status ValidateProject(absl::string_view project) {
  if (auto at = project.rfind('@'); at != absl::string_view::npos) {
    // pubsub://user:password@project: not echoed, the part before '@' may be a secret.
    return absl::InvalidArgumentError(absl::StrCat(
        "pubsub URL 'pubsub://***@", project.substr(at + 1),
        "': Pub/Sub takes no user:password@ in the URL; it authenticates with Application "
        "Default Credentials (GOOGLE_APPLICATION_CREDENTIALS naming a service-account key "
        "file, or `gcloud auth application-default login`)"));
  }
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid Google Cloud project ID '", project, "' in pubsub://", project, ": ", why,
        " (a project ID is 6-30 lowercase letters, digits and hyphens, starting with a letter; "
        "use the ID, not the project's display name or number)"));
  };
  absl::string_view id = project;
  if (auto colon = project.rfind(':'); colon != absl::string_view::npos)
    id = project.substr(colon + 1);
  if (project.empty()) return bad("it is empty");
  if (id.size() < 6 || id.size() > 30) return bad("wrong length");
  if (!absl::ascii_islower(static_cast<unsigned char>(id[0])))
    return bad("must start with a lowercase letter");
  if (id.back() == '-') return bad("must not end with '-'");
  for (char c : id) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return bad(absl::StrCat("character '", absl::string_view(&c, 1), "' is not allowed"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Endpoint> ParseEndpoint(const core_internal::Url& url) {
  Endpoint e;
  e.project = url.body;
  e.url = absl::StrCat("pubsub://", url.body);
  for (const auto& [k, v] : url.query) {
    if (k == "emulator") {
      e.address = v;
      e.emulator = true;
    } else if (k == "endpoint") {
      if (!e.emulator) e.address = v;
    } else if (k == "streams") {
      int n = 0;
      if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 64) {
        return absl::InvalidArgumentError(
            absl::StrCat("streams='", v, "' in ", core_internal::RedactUrl(url.original),
                         " must be a number of StreamingPull streams from 1 to 64"));
      }
      e.streams = static_cast<std::size_t>(n);
    } else if (k == "ordering") {
      if (v == "on" || v == "true" || v == "1") {
        e.ordering = true;
      } else if (v == "off" || v == "false" || v == "0") {
        e.ordering = false;
      } else {
        return absl::InvalidArgumentError(absl::StrCat("ordering='", v, "' in ",
                                                       core_internal::RedactUrl(url.original),
                                                       " must be on or off"));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown parameter '", k, "' in ", core_internal::RedactUrl(url.original),
                       "; pubsub:// takes emulator=HOST:PORT, endpoint=HOST:PORT, streams=N or "
                       "ordering=on|off"));
    }
  }
  if (e.address.empty()) {
    const char* env = std::getenv("PUBSUB_EMULATOR_HOST");
    if (env != nullptr && *env != '\0') {
      e.address = env;
      e.emulator = true;
    } else {
      e.address = kGoogleEndpoint;
    }
  }
  if (e.address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("address '", e.address, "' for ", e.url,
                     " has no port; write HOST:PORT, e.g. 127.0.0.1:8085"));
  }
  // The emulator, like the official clients, takes any project ID (tests use
  // pubsub://test); Google's service takes only real ones.
  if (e.emulator) {
    if (e.project.empty() || e.project.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("invalid project ID '", e.project, "' in ",
                                                     e.url, ": give a non-empty ID without '/'"));
    }
  } else if (auto s = ValidateProject(e.project); !s.ok()) {
    return s;
  }
  return e;
}

std::string ProjectPath(absl::string_view project) { return absl::StrCat("projects/", project); }
std::string TopicPath(absl::string_view project, absl::string_view topic) {
  return absl::StrCat("projects/", project, "/topics/", topic);
}
std::string SubscriptionPath(absl::string_view project, absl::string_view subscription) {
  return absl::StrCat("projects/", project, "/subscriptions/", subscription);
}
std::string ShortName(absl::string_view path) {
  if (!absl::StartsWith(path, "projects/")) return std::string(path);
  auto slash = path.rfind('/');
  return std::string(path.substr(slash + 1));
}

bool IsRetryable(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
      return true;
    default:
      return false;
  }
}

absl::Status ToStatus(const grpc::Status& status, const Endpoint& e, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  const std::string detail = status.error_message();
  const std::string head = absl::StrCat(e.url, " (", e.address, "): ", what, " failed: ");
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return absl::UnavailableError(
          absl::StrCat(head, "nothing answers (", detail, "); ", WhatToDo(e)));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(
          absl::StrCat(head, "no answer in time (", detail, "); ", WhatToDo(e)));
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::PermissionDeniedError(
          absl::StrCat(head, "credentials were rejected (", detail,
                       "); run `gcloud auth application-default login` or set "
                       "GOOGLE_APPLICATION_CREDENTIALS to a "
                       "service-account key file"));
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::PermissionDeniedError(
          absl::StrCat(head, "permission denied (", detail,
                       "); grant the caller a Pub/Sub role on project ", e.project));
    case grpc::StatusCode::NOT_FOUND:
      return absl::NotFoundError(absl::StrCat(head, "not found (", detail, ")"));
    case grpc::StatusCode::ALREADY_EXISTS:
      return absl::AlreadyExistsError(absl::StrCat(head, "already exists (", detail, ")"));
    default:
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat(head, detail));
  }
}

void Connection::SetTimeout(grpc::ClientContext& ctx, absl::Duration timeout) {
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

Connection::Connection(Endpoint endpoint, BrokerOptions options,
                       std::shared_ptr<grpc::ChannelCredentials> creds)
    : endpoint_(std::move(endpoint)), options_(std::move(options)), creds_(std::move(creds)) {
  channel_ = NewChannel();
  publisher_ = google::pubsub::v1::Publisher::NewStub(channel_);
  subscriber_ = google::pubsub::v1::Subscriber::NewStub(channel_);
}

std::shared_ptr<grpc::Channel> Connection::NewChannel() const {
  return grpc::CreateCustomChannel(endpoint_.address, creds_, ChannelArgs());
}

absl::StatusOr<std::shared_ptr<Connection>> Connection::Open(Endpoint endpoint,
                                                             BrokerOptions options) {
  KeepCallbackQueueAlive();
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (endpoint.emulator) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    creds = grpc::GoogleDefaultCredentials();
    if (creds == nullptr) {
      return absl::PermissionDeniedError(
          absl::StrCat(endpoint.url, ": no Google credentials found for ", endpoint.address,
                       "; set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, run "
                       "`gcloud auth application-default login`, or set "
                       "PUBSUB_EMULATOR_HOST=HOST:PORT to use the emulator"));
    }
  }
  std::shared_ptr<Connection> c(
      new Connection(std::move(endpoint), std::move(options), std::move(creds)));
  const auto deadline =
      std::chrono::system_clock::now() + absl::ToChronoMilliseconds(c->options_.connect_timeout);
  if (!c->channel_->WaitForConnected(deadline)) {
    return absl::UnavailableError(absl::StrCat(
        c->endpoint_.url, ": nothing answers at ", c->endpoint_.address,
        c->endpoint_.emulator ? " (the emulator address)" : "", " within ",
        absl::FormatDuration(c->options_.connect_timeout), "; ", WhatToDo(c->endpoint_)));
  }
  return c;
}

}  // namespace unibus::pubsub_internal
