// HDF5 helpers (see h5_util.h).
#include "probes/trace/h5_util.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>
#include <type_traits>

#include "engine/util/error.h"

namespace moescope::h5 {

Id& Id::operator=(Id&& o) noexcept {
  if (this != &o) {
    reset();
    m_id = o.m_id;
    o.m_id = H5I_INVALID_HID;
  }
  return *this;
}

void Id::reset() {
  if (m_id < 0) return;
  switch (H5Iget_type(m_id)) {
    case H5I_FILE: H5Fclose(m_id); break;
    case H5I_GROUP: H5Gclose(m_id); break;
    case H5I_DATASET: H5Dclose(m_id); break;
    case H5I_DATASPACE: H5Sclose(m_id); break;
    case H5I_DATATYPE: H5Tclose(m_id); break;
    case H5I_ATTR: H5Aclose(m_id); break;
    case H5I_GENPROP_LST: H5Pclose(m_id); break;
    default: break;
  }
  m_id = H5I_INVALID_HID;
}

void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

template <> hid_t native_type<int8_t>() { return H5T_NATIVE_INT8; }
template <> hid_t native_type<uint8_t>() { return H5T_NATIVE_UINT8; }
template <> hid_t native_type<int16_t>() { return H5T_NATIVE_INT16; }
template <> hid_t native_type<uint16_t>() { return H5T_NATIVE_UINT16; }
template <> hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t native_type<uint32_t>() { return H5T_NATIVE_UINT32; }
template <> hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t native_type<uint64_t>() { return H5T_NATIVE_UINT64; }
template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }

static hid_t check(hid_t id, const std::string& what) {
  if (id < 0) throw Error(what);
  return id;
}
static void check_status(herr_t st, const std::string& what) {
  if (st < 0) throw Error(what);
}

Id string_type() {
  Id t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

Id create_file(const std::string& path) {
  quiet();
  return Id(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                  path + ": cannot create HDF5 file"));
}

Id open_file(const std::string& path, bool writable) {
  quiet();
  return Id(check(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT),
                  path + ": cannot open HDF5 file"));
}

static std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

bool exists(hid_t loc, const std::string& path) {
  quiet();
  std::string prefix;
  for (const std::string& part : split_path(path)) {
    prefix += (prefix.empty() ? "" : "/") + part;
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (H5Oexists_by_name(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

Id create_group(hid_t loc, const std::string& path) {
  Id lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl, 1);
  return Id(check(H5Gcreate2(loc, path.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT), path + ": cannot create group"));
}

Id open_group(hid_t loc, const std::string& path) {
  quiet();
  return Id(check(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), path + ": no such group"));
}

Id open_or_create_group(hid_t loc, const std::string& path) {
  return exists(loc, path) ? open_group(loc, path) : create_group(loc, path);
}

static Id replace_attr(hid_t obj, const std::string& name, hid_t type) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Id space(H5Screate(H5S_SCALAR));
  return Id(check(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                  "attribute '" + name + "': cannot create"));
}

void write_attr(hid_t obj, const std::string& name, const std::string& value) {
  Id type = string_type();
  Id a = replace_attr(obj, name, type);
  const char* p = value.c_str();
  check_status(H5Awrite(a, type, &p), "attribute '" + name + "': cannot write");
}
void write_attr(hid_t obj, const std::string& name, const char* value) { write_attr(obj, name, std::string(value)); }

void write_attr(hid_t obj, const std::string& name, int64_t value) {
  Id a = replace_attr(obj, name, H5T_STD_I64LE);
  check_status(H5Awrite(a, H5T_NATIVE_INT64, &value), "attribute '" + name + "': cannot write");
}

void write_attr(hid_t obj, const std::string& name, double value) {
  Id a = replace_attr(obj, name, H5T_IEEE_F64LE);
  check_status(H5Awrite(a, H5T_NATIVE_DOUBLE, &value), "attribute '" + name + "': cannot write");
}

bool has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

// Opens a scalar (or single-element) attribute; nullopt when absent.
static std::optional<Id> open_scalar_attr(hid_t obj, const std::string& name) {
  quiet();
  if (H5Aexists(obj, name.c_str()) <= 0) return std::nullopt;
  Id a(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "attribute '" + name + "': cannot open"));
  Id space(H5Aget_space(a));
  if (H5Sget_simple_extent_npoints(space) != 1) throw Error("attribute '" + name + "': not a scalar");
  return a;
}

std::optional<std::string> read_attr_string(hid_t obj, const std::string& name) {
  auto a = open_scalar_attr(obj, name);
  if (!a) return std::nullopt;
  Id ftype(H5Aget_type(*a));
  if (H5Tget_class(ftype) != H5T_STRING) throw Error("attribute '" + name + "': not a string");
  if (H5Tis_variable_str(ftype) > 0) {
    Id mtype = string_type();
    char* p = nullptr;
    check_status(H5Aread(*a, mtype, &p), "attribute '" + name + "': cannot read");
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  // Fixed-length strings (written by other tools, e.g. h5py with np.bytes_).
  const size_t n = H5Tget_size(ftype);
  std::string s(n, '\0');
  Id mtype(H5Tcopy(H5T_C_S1));
  H5Tset_size(mtype, n);
  check_status(H5Aread(*a, mtype, s.data()), "attribute '" + name + "': cannot read");
  s.resize(std::strlen(s.c_str()));
  return s;
}

std::optional<int64_t> read_attr_int(hid_t obj, const std::string& name) {
  auto a = open_scalar_attr(obj, name);
  if (!a) return std::nullopt;
  Id ftype(H5Aget_type(*a));
  if (H5Tget_class(ftype) != H5T_INTEGER) throw Error("attribute '" + name + "': not an integer");
  int64_t v = 0;
  check_status(H5Aread(*a, H5T_NATIVE_INT64, &v), "attribute '" + name + "': cannot read");
  return v;
}

std::optional<double> read_attr_double(hid_t obj, const std::string& name) {
  auto a = open_scalar_attr(obj, name);
  if (!a) return std::nullopt;
  Id ftype(H5Aget_type(*a));
  const H5T_class_t c = H5Tget_class(ftype);
  if (c != H5T_FLOAT && c != H5T_INTEGER) throw Error("attribute '" + name + "': not a number");
  double v = 0;
  check_status(H5Aread(*a, H5T_NATIVE_DOUBLE, &v), "attribute '" + name + "': cannot read");
  return v;
}

static herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* op) {
  static_cast<std::vector<std::string>*>(op)->push_back(name);
  return 0;
}
std::vector<std::string> attr_names(hid_t obj) {
  std::vector<std::string> out;
  hsize_t idx = 0;
  H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &out);
  return out;
}

static herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* op) {
  static_cast<std::vector<std::string>*>(op)->push_back(name);
  return 0;
}
std::vector<std::string> child_names(hid_t group) {
  std::vector<std::string> out;
  hsize_t idx = 0;
  H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &out);
  return out;
}

void write_dataset(hid_t loc, const std::string& name, hid_t mem_type, const std::vector<hsize_t>& dims,
                   const void* data) {
  Id space(H5Screate_simple(int(dims.size()), dims.data(), nullptr));
  Id ds(check(H5Dcreate2(loc, name.c_str(), mem_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              name + ": cannot create dataset"));
  const hsize_t n = std::accumulate(dims.begin(), dims.end(), hsize_t(1), std::multiplies<>());
  if (n > 0) check_status(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name + ": cannot write");
}

void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& v) {
  std::vector<const char*> ptrs;
  for (const std::string& s : v) ptrs.push_back(s.c_str());
  Id type = string_type();
  write_dataset(loc, name, type, {hsize_t(v.size())}, ptrs.data());
}

std::vector<hsize_t> dataset_dims(hid_t loc, const std::string& name) {
  quiet();
  Id ds(check(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), name + ": missing dataset"));
  Id space(H5Dget_space(ds));
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) throw Error(name + ": unreadable dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

// Opens a dataset and selects its first `rows` rows; returns (dataset, file space, mem space, count).
struct Selection {
  Id ds, fspace, mspace;
  hsize_t elements = 0;
};
static Selection select_rows(hid_t loc, const std::string& name, int64_t rows) {
  quiet();
  Selection s;
  s.ds = Id(check(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), name + ": missing dataset"));
  s.fspace = Id(H5Dget_space(s.ds));
  const int rank = H5Sget_simple_extent_ndims(s.fspace);
  if (rank < 0) throw Error(name + ": unreadable dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(s.fspace, dims.data(), nullptr);
  if (rank == 0) {
    s.elements = 1;
    s.mspace = Id(H5Screate(H5S_SCALAR));
    return s;
  }
  if (rows >= 0) {
    if (hsize_t(rows) > dims[0]) throw Error(name + ": has " + std::to_string(dims[0]) + " rows, expected " + std::to_string(rows));
    dims[0] = hsize_t(rows);
  }
  s.elements = std::accumulate(dims.begin(), dims.end(), hsize_t(1), std::multiplies<>());
  std::vector<hsize_t> start(size_t(rank), 0);
  H5Sselect_hyperslab(s.fspace, H5S_SELECT_SET, start.data(), nullptr, dims.data(), nullptr);
  s.mspace = Id(H5Screate_simple(rank, dims.data(), nullptr));
  return s;
}

template <typename T>
std::vector<T> read_dataset(hid_t loc, const std::string& name, int64_t rows) {
  Selection s = select_rows(loc, name, rows);
  Id ftype(H5Dget_type(s.ds));
  const H5T_class_t c = H5Tget_class(ftype);
  const bool want_float = std::is_floating_point_v<T>;
  if (c != (want_float ? H5T_FLOAT : H5T_INTEGER))
    throw Error(name + ": stored as " + (c == H5T_FLOAT ? "float" : c == H5T_INTEGER ? "integer" : "another type") +
                ", expected " + (want_float ? "float" : "integer"));
  std::vector<T> v(s.elements);
  if (s.elements > 0)
    check_status(H5Dread(s.ds, native_type<T>(), s.mspace, s.fspace, H5P_DEFAULT, v.data()),
                 name + ": cannot read (truncated or corrupt file?)");
  return v;
}
template std::vector<int8_t> read_dataset<int8_t>(hid_t, const std::string&, int64_t);
template std::vector<uint8_t> read_dataset<uint8_t>(hid_t, const std::string&, int64_t);
template std::vector<int32_t> read_dataset<int32_t>(hid_t, const std::string&, int64_t);
template std::vector<int64_t> read_dataset<int64_t>(hid_t, const std::string&, int64_t);
template std::vector<uint64_t> read_dataset<uint64_t>(hid_t, const std::string&, int64_t);
template std::vector<float> read_dataset<float>(hid_t, const std::string&, int64_t);
template std::vector<double> read_dataset<double>(hid_t, const std::string&, int64_t);

// HDF5 1.10 trusts the (collection address, object index) stored for each variable-length string and
// crashes in H5HG_read on a corrupt one. Before reading, check every stored reference against the global
// heap collection it points to, parsed here from the file bytes: a damaged file becomes an Error.
namespace {

struct FileBytes {
  std::FILE* f = nullptr;
  uint64_t size = 0;
  explicit FileBytes(const std::string& path) : f(std::fopen(path.c_str(), "rb")) {
    if (f && std::fseek(f, 0, SEEK_END) == 0) size = uint64_t(std::ftell(f));
  }
  ~FileBytes() {
    if (f) std::fclose(f);
  }
  bool read(uint64_t addr, void* out, size_t n) {
    if (!f || addr > size || n > size - addr) return false;
    return std::fseek(f, long(addr), SEEK_SET) == 0 && std::fread(out, 1, n, f) == n;
  }
};

uint64_t le(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

class HeapChecker {
 public:
  HeapChecker(const std::string& path, size_t sizeof_addr, size_t sizeof_size)
      : m_file(path), m_addr(sizeof_addr), m_size(sizeof_size) {}
  bool ok_file() const { return m_file.f != nullptr; }

  // Whether object `index` exists in the collection at `addr` and holds at least `length` bytes.
  bool valid(uint64_t addr, uint64_t index, uint64_t length) {
    auto it = m_heaps.find(addr);
    if (it == m_heaps.end()) it = m_heaps.emplace(addr, parse(addr)).first;
    const auto& objs = it->second;
    auto o = objs.find(index);
    return o != objs.end() && o->second >= length;
  }

 private:
  // Object index -> size of a well-formed collection; empty when the collection is damaged.
  std::map<uint64_t, uint64_t> parse(uint64_t addr) {
    std::map<uint64_t, uint64_t> objs;
    uint8_t head[8 + 16];
    if (!m_file.read(addr, head, 8 + m_size)) return objs;
    if (std::memcmp(head, "GCOL", 4) != 0 || head[4] != 1) return objs;
    const uint64_t csize = le(head + 8, m_size);
    if (csize < 4096 || csize > m_file.size || addr > m_file.size - csize) return objs;
    std::vector<uint8_t> buf(csize);
    if (!m_file.read(addr, buf.data(), buf.size())) return objs;
    size_t p = 8 + m_size;
    const size_t hdr = 8 + m_size;  // index(2) refcount(2) reserved(4) size
    while (p + hdr <= buf.size()) {
      const uint64_t idx = le(&buf[p], 2);
      const uint64_t osize = le(&buf[p + 8], m_size);
      if (idx == 0) break;  // free space: the rest of the collection
      if (osize > buf.size() - p - hdr) return {};
      objs[idx] = osize;
      p += hdr + ((osize + 7) & ~uint64_t(7));
    }
    return objs;
  }

  FileBytes m_file;
  size_t m_addr, m_size;
  std::map<uint64_t, std::map<uint64_t, uint64_t>> m_heaps;
};

}  // namespace

static void check_vlen_references(hid_t ds, const std::string& name, hsize_t elements) {
  const std::string err = name + ": corrupt string storage (damaged file)";
  ssize_t n = H5Fget_name(ds, nullptr, 0);
  if (n <= 0) throw Error(err);
  std::string path(size_t(n) + 1, '\0');
  H5Fget_name(ds, path.data(), path.size());
  path.resize(size_t(n));
  Id file(H5Iget_file_id(ds));
  Id fcpl(H5Fget_create_plist(file));
  size_t sizeof_addr = 8, sizeof_size = 8;
  H5Pget_sizes(fcpl, &sizeof_addr, &sizeof_size);
  if (sizeof_addr > 8 || sizeof_size > 8) throw Error(err);
  HeapChecker heaps(path, sizeof_addr, sizeof_size);
  if (!heaps.ok_file()) return;  // not a plain file (another driver): nothing to check against
  FileBytes raw(path);
  const size_t elem = 4 + sizeof_addr + 4;  // length, collection address, object index
  auto check_elements = [&](const std::vector<uint8_t>& bytes, hsize_t count) {
    for (hsize_t i = 0; i < count; ++i) {
      const uint8_t* e = bytes.data() + i * elem;
      const uint64_t length = le(e, 4), addr = le(e + 4, sizeof_addr), index = le(e + 4 + sizeof_addr, 4);
      if (length == 0) continue;  // never written (fill) or "": HDF5 reads nothing from the heap
      if (!heaps.valid(addr, index, length)) throw Error(err);
    }
  };
  Id dcpl(H5Dget_create_plist(ds));
  const H5D_layout_t layout = H5Pget_layout(dcpl);
  if (H5Pget_nfilters(dcpl) > 0) return;  // filtered chunks are not parsed here
  Id space(H5Dget_space(ds));
  if (layout == H5D_CONTIGUOUS) {
    const haddr_t off = H5Dget_offset(ds);
    if (off == HADDR_UNDEF) return;  // no storage allocated: nothing stored
    std::vector<uint8_t> bytes(elements * elem);
    if (!raw.read(off, bytes.data(), bytes.size())) throw Error(err);
    check_elements(bytes, elements);
  } else if (layout == H5D_CHUNKED) {
    hsize_t chunk_dim = 0;
    if (H5Pget_chunk(dcpl, 1, &chunk_dim) != 1 || chunk_dim == 0) throw Error(err);
    hsize_t nchunks = 0;
    if (H5Dget_num_chunks(ds, space, &nchunks) < 0) throw Error(err);
    for (hsize_t c = 0; c < nchunks; ++c) {
      hsize_t offset = 0;
      unsigned mask = 0;
      haddr_t addr = 0;
      hsize_t size = 0;
      if (H5Dget_chunk_info(ds, space, c, &offset, &mask, &addr, &size) < 0) throw Error(err);
      if (offset >= elements) continue;
      const hsize_t count = std::min(chunk_dim, elements - offset);
      if (size < count * elem) throw Error(err);
      std::vector<uint8_t> bytes(count * elem);
      if (!raw.read(addr, bytes.data(), bytes.size())) throw Error(err);
      check_elements(bytes, count);
    }
  }
}

std::vector<std::string> read_strings(hid_t loc, const std::string& name, int64_t rows) {
  Selection s = select_rows(loc, name, rows);
  Id ftype(H5Dget_type(s.ds));
  if (H5Tget_class(ftype) != H5T_STRING) throw Error(name + ": not a string dataset");
  std::vector<std::string> out;
  out.reserve(s.elements);
  if (s.elements == 0) return out;
  if (H5Tis_variable_str(ftype) > 0) {
    Id space(H5Dget_space(s.ds));
    if (H5Sget_simple_extent_ndims(space) != 1) throw Error(name + ": expected a 1-D string dataset");
    check_vlen_references(s.ds, name, s.elements);
    Id mtype = string_type();
    std::vector<char*> ptrs(s.elements, nullptr);
    check_status(H5Dread(s.ds, mtype, s.mspace, s.fspace, H5P_DEFAULT, ptrs.data()),
                 name + ": cannot read (truncated or corrupt file?)");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mtype, s.mspace, H5P_DEFAULT, ptrs.data());
  } else {
    const size_t n = H5Tget_size(ftype);
    std::vector<char> buf(s.elements * n);
    Id mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype, n);
    check_status(H5Dread(s.ds, mtype, s.mspace, s.fspace, H5P_DEFAULT, buf.data()), name + ": cannot read");
    for (hsize_t i = 0; i < s.elements; ++i) out.emplace_back(std::string(buf.data() + i * n, strnlen(buf.data() + i * n, n)));
  }
  return out;
}

void GrowableDataset::create(hid_t loc, const std::string& name, hid_t file_type,
                             const std::vector<hsize_t>& trailing, const void* fill, size_t chunk_bytes) {
  m_name = name;
  m_dims.assign(1, 0);
  m_dims.insert(m_dims.end(), trailing.begin(), trailing.end());
  std::vector<hsize_t> maxdims(m_dims.size(), H5S_UNLIMITED);
  Id space(H5Screate_simple(int(m_dims.size()), m_dims.data(), maxdims.data()));
  size_t row_bytes = H5Tis_variable_str(file_type) > 0 ? 16 : H5Tget_size(file_type);
  std::vector<hsize_t> chunk(m_dims.size());
  for (size_t i = 1; i < m_dims.size(); ++i) {
    chunk[i] = std::max<hsize_t>(m_dims[i], 1);
    row_bytes *= chunk[i];
  }
  chunk[0] = std::clamp<hsize_t>(hsize_t(chunk_bytes / std::max<size_t>(row_bytes, 1)), 1, 1024);
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl, int(chunk.size()), chunk.data());
  if (fill) H5Pset_fill_value(dcpl, file_type, fill);
  // Allocate chunks when written (not at extent changes), and initialise them with the fill value so
  // elements of a grown trailing dimension read as fill.
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_IFSET);
  m_ds = Id(check(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                  name + ": cannot create dataset"));
}

void GrowableDataset::apply_extent() {
  check_status(H5Dset_extent(m_ds, m_dims.data()), m_name + ": cannot resize");
}

void GrowableDataset::set_rows(hsize_t rows) {
  if (m_dims[0] == rows) return;
  m_dims[0] = rows;
  apply_extent();
}

void GrowableDataset::grow_dim(int dim, hsize_t size) {
  if (size <= m_dims[size_t(dim)]) return;
  m_dims[size_t(dim)] = size;
  apply_extent();
}

void GrowableDataset::write_rows(hsize_t first, hsize_t count, hid_t mem_type, const void* data) {
  if (count == 0) return;
  if (first + count > m_dims[0]) set_rows(first + count);
  Id fspace(H5Dget_space(m_ds));
  std::vector<hsize_t> start(m_dims.size(), 0), cnt = m_dims;
  start[0] = first;
  cnt[0] = count;
  for (hsize_t d : cnt)
    if (d == 0) return;  // a zero-width trailing dim: nothing to write
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, cnt.data(), nullptr);
  Id mspace(H5Screate_simple(int(cnt.size()), cnt.data(), nullptr));
  check_status(H5Dwrite(m_ds, mem_type, mspace, fspace, H5P_DEFAULT, data), m_name + ": cannot write");
}

void write_string_rows(GrowableDataset& ds, hsize_t first, const std::vector<std::string>& rows) {
  std::vector<const char*> ptrs;
  ptrs.reserve(rows.size());
  for (const std::string& s : rows) ptrs.push_back(s.c_str());
  Id type = string_type();
  ds.write_rows(first, hsize_t(rows.size()), type, ptrs.data());
}

}  // namespace moescope::h5
