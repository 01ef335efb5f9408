// Registers the backends compiled into this build. Each backend exposes one
// function, Register<Name>Backend(), declared here to keep their headers private.
#include <mutex>

#include "core/registry.h"

namespace unibus {
namespace mem_internal {
void RegisterMemBackend();
}
#ifdef UNIBUS_HAVE_SQLITE
namespace sqlite_internal {
void RegisterSqliteBackend();
}
#endif
#ifdef UNIBUS_HAVE_KAFKA
namespace kafka_internal {
void RegisterKafkaBackend();
}
#endif
#ifdef UNIBUS_HAVE_PUBSUB
namespace pubsub_internal {
void RegisterPubsubBackend();
}
#endif

namespace core_internal {

void RegisterBuiltinBackends() {
  static std::once_flag once;
  std::call_once(once, [] {
    mem_internal::RegisterMemBackend();
#ifdef UNIBUS_HAVE_SQLITE
    sqlite_internal::RegisterSqliteBackend();
#endif
#ifdef UNIBUS_HAVE_KAFKA
    kafka_internal::RegisterKafkaBackend();
#endif
#ifdef UNIBUS_HAVE_PUBSUB
    pubsub_internal::RegisterPubsubBackend();
#endif
  });
}

}  // namespace core_internal
}  // namespace unibus
