// Small helpers over the HDF5 C API used by the trace writer/reader and by `compare` (probes/comparison)
// for its /comparison group: RAII ids, vlen UTF-8 string attrs/datasets, whole-dataset read/write and
// datasets that grow along their first dimension (chunked, unlimited), which is what lets a killed
// writer leave a readable prefix. Every failure throws moescope::Error naming the object.
// The HDF5 error stack printing is switched off per thread by quiet() (called by every helper that
// opens something), so a corrupt file gives one Error, not a page of HDF5 diagnostics.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moescope::h5 {

// Owns one HDF5 id; closes it with the matching H5?close.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : m_id(id) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  Id(Id&& o) noexcept : m_id(o.m_id) { o.m_id = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept;
  ~Id() { reset(); }
  hid_t get() const { return m_id; }
  operator hid_t() const { return m_id; }
  bool valid() const { return m_id >= 0; }
  void reset();
  hid_t release() {
    hid_t id = m_id;
    m_id = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t m_id = H5I_INVALID_HID;
};

// Turn off HDF5's automatic error printing for the calling thread.
void quiet();

// Memory type of T (int8..int64, uint8..uint64, float, double).
template <typename T> hid_t native_type();
// Variable-length UTF-8 string type (h5py reads it as str).
Id string_type();

Id create_file(const std::string& path);        // truncates
Id open_file(const std::string& path, bool writable = false);
bool exists(hid_t loc, const std::string& path);  // each component of a/b/c
Id create_group(hid_t loc, const std::string& path);  // creates missing parents
Id open_group(hid_t loc, const std::string& path);
Id open_or_create_group(hid_t loc, const std::string& path);

// Scalar attributes (replaced when present).
void write_attr(hid_t obj, const std::string& name, const std::string& value);
void write_attr(hid_t obj, const std::string& name, const char* value);
void write_attr(hid_t obj, const std::string& name, int64_t value);
void write_attr(hid_t obj, const std::string& name, double value);
bool has_attr(hid_t obj, const std::string& name);
// Read a scalar attribute; nullopt when absent; Error when present with another type class.
std::optional<std::string> read_attr_string(hid_t obj, const std::string& name);
std::optional<int64_t> read_attr_int(hid_t obj, const std::string& name);
std::optional<double> read_attr_double(hid_t obj, const std::string& name);
std::vector<std::string> attr_names(hid_t obj);
std::vector<std::string> child_names(hid_t group);  // links of a group, in name order

// Whole datasets (contiguous-or-chunked, fixed shape). `data` holds prod(dims) elements.
void write_dataset(hid_t loc, const std::string& name, hid_t mem_type, const std::vector<hsize_t>& dims,
                   const void* data);
template <typename T>
void write_dataset(hid_t loc, const std::string& name, const std::vector<hsize_t>& dims, const std::vector<T>& v) {
  write_dataset(loc, name, native_type<T>(), dims, v.data());
}
void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& v);

std::vector<hsize_t> dataset_dims(hid_t loc, const std::string& name);
// Read the first `rows` rows (all when rows < 0) of a dataset with element type T. Error when the
// stored type class differs (integer vs float) or the dataset is unreadable.
template <typename T>
std::vector<T> read_dataset(hid_t loc, const std::string& name, int64_t rows = -1);
std::vector<std::string> read_strings(hid_t loc, const std::string& name, int64_t rows = -1);

// A dataset that grows along dimension 0: all dims are unlimited (so a trailing dim, e.g. K, may grow
// too), chunked with about `chunk_bytes` per chunk, with a fill value for never-written elements.
class GrowableDataset {
 public:
  GrowableDataset() = default;
  // `trailing`: dims after the first; created with 0 rows.
  void create(hid_t loc, const std::string& name, hid_t file_type, const std::vector<hsize_t>& trailing,
              const void* fill = nullptr, size_t chunk_bytes = 32 * 1024);
  // Writes rows [first, first + count) (extends when needed). `data` has count * prod(trailing) elements
  // of `mem_type`, laid out with the current trailing dims.
  void write_rows(hsize_t first, hsize_t count, hid_t mem_type, const void* data);
  // Set the number of rows (shrink on rewind, grow for padding).
  void set_rows(hsize_t rows);
  // Grow trailing dimension `dim` (1-based over the full shape) to `size`; new elements read as fill.
  void grow_dim(int dim, hsize_t size);
  hsize_t rows() const { return m_dims.empty() ? 0 : m_dims[0]; }
  const std::vector<hsize_t>& dims() const { return m_dims; }
  bool valid() const { return m_ds.valid(); }
  void close() { m_ds.reset(); }

 private:
  void apply_extent();
  Id m_ds;
  std::vector<hsize_t> m_dims;
  std::string m_name;
};

// Write/append variable-length strings to a GrowableDataset created with string_type().
void write_string_rows(GrowableDataset& ds, hsize_t first, const std::vector<std::string>& rows);

}  // namespace moescope::h5
