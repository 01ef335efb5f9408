// Owning a C library's handle: a std::unique_ptr whose deleter calls the library's
// own release function. One template for every C library unibus uses (SQLite,
// librdkafka, libpq), so no handle is ever released by hand:
//   using DbHandle = CHandle<sqlite3, sqlite3_close_v2>;
//   DbHandle db(raw);  // sqlite3_close_v2(raw) when db goes
// (modern-cpp-kafka's RdKafkaHelper.h does the same for librdkafka.)
#ifndef UNIBUS_CORE_C_HANDLE_H_
#define UNIBUS_CORE_C_HANDLE_H_

#include <memory>

namespace unibus::core_internal {

// Calls `Release(handle)`; std::unique_ptr never calls it with null. What Release
// returns (sqlite3_finalize repeats the statement's last error) is not an error of
// the release itself, and is dropped.
template <auto Release>
struct CDeleter {
  template <typename T>
  void operator()(T* handle) const {
    (void)Release(handle);
  }
};

template <typename T, auto Release>
using CHandle = std::unique_ptr<T, CDeleter<Release>>;

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_C_HANDLE_H_
