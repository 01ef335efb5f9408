// UNIBUS_EXPORT marks the public API: libunibus.so is compiled with
// -fvisibility=hidden, so only what carries it is exported (leveldb's
// include/leveldb/export.h does the same). Classes with virtual functions carry it so
// that their type information is one across the library and its users.
#ifndef UNIBUS_EXPORT_H_
#define UNIBUS_EXPORT_H_

#if defined(__GNUC__) || defined(__clang__)
#define UNIBUS_EXPORT __attribute__((visibility("default")))
#else
#define UNIBUS_EXPORT
#endif

#endif  // UNIBUS_EXPORT_H_
