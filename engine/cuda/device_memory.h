// RAII owners for device and pinned host memory (grow-only buffers: decoding never reallocates).
// Internal to engine/cuda.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "engine/cuda/cuda_check.h"

namespace moescope::cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) { reserve(n); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : m_ptr(std::exchange(o.m_ptr, nullptr)), m_size(std::exchange(o.m_size, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      m_ptr = std::exchange(o.m_ptr, nullptr);
      m_size = std::exchange(o.m_size, 0);
    }
    return *this;
  }

  // Grows to at least n elements; old contents are not kept.
  void reserve(size_t n) {
    if (n <= m_size) return;
    release();
    void* p = nullptr;
    MOESCOPE_CUDA_CHECK(cudaMalloc(&p, n * sizeof(T)));
    m_ptr = static_cast<T*>(p);
    m_size = n;
  }
  T* get() const { return m_ptr; }
  size_t size() const { return m_size; }

 private:
  void release() {
    if (m_ptr) cudaFree(m_ptr);
    m_ptr = nullptr;
    m_size = 0;
  }
  T* m_ptr = nullptr;
  size_t m_size = 0;
};

template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() { release(); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void reserve(size_t n) {
    if (n <= m_size) return;
    release();
    void* p = nullptr;
    MOESCOPE_CUDA_CHECK(cudaMallocHost(&p, n * sizeof(T)));
    m_ptr = static_cast<T*>(p);
    m_size = n;
  }
  T* get() const { return m_ptr; }
  size_t size() const { return m_size; }

 private:
  void release() {
    if (m_ptr) cudaFreeHost(m_ptr);
    m_ptr = nullptr;
    m_size = 0;
  }
  T* m_ptr = nullptr;
  size_t m_size = 0;
};

}  // namespace moescope::cuda
