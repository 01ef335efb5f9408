// Names library threads so that top, perf and gdb tell them apart.
#ifndef UNIBUS_CORE_THREAD_NAME_H_
#define UNIBUS_CORE_THREAD_NAME_H_

#include <pthread.h>

namespace unibus::core_internal {

// Names the calling thread: `name` is truncated to the 15 characters Linux keeps.
inline void NameThisThread(const char* name) {
  char buf[16] = {};
  for (int i = 0; i < 15 && name[i] != '\0'; ++i) buf[i] = name[i];
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace unibus::core_internal

#endif  // UNIBUS_CORE_THREAD_NAME_H_
