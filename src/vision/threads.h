// Process-wide CPU settings for LibTorch.
#ifndef UNIBUS_VISION_THREADS_H_
#define UNIBUS_VISION_THREADS_H_

namespace unibus::vision {

// Sets LibTorch's intra-op threads (OpenMP, pthreadpool) and OpenBLAS's threads to
// `threads` for the calling thread and threads started afterwards. More threads than
// free cores is catastrophic on a busy machine: OpenMP barriers spin while a sibling
// thread is descheduled. Call it from each worker thread that runs a model.
void SetCpuThreads(int threads);

// Makes glibc malloc keep freed large blocks instead of returning them to the kernel.
// LibTorch allocates and frees the same multi-megabyte activations every step; with the
// default thresholds each one is a fresh mmap and page faults dominate (measured: a
// training step 2.7x slower). Process-wide; call once at the start of a program that
// trains or serves a model.
void KeepFreedMemoryForReuse();

}  // namespace unibus::vision

#endif  // UNIBUS_VISION_THREADS_H_
