// GGUF v2/v3 reader over a memory-mapped file (spec section 1). Every count, length and offset read from
// the file is checked against the bytes that remain before anything is allocated; a broken or hostile
// file gives one Error naming the problem and the byte offset. Tensor data is never copied.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ops/types.h"
#include "runtime/mmap_file.h"

namespace llama4 {

enum class GgufType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
constexpr uint32_t kGgufTypeCount = 13;
const char* gguf_type_name(GgufType t);
size_t gguf_type_size(GgufType t);  // 0 for STRING / ARRAY

struct GgufKV {
  std::string key;
  GgufType type;
  // scalars
  union {
    uint64_t u64;
    int64_t i64;
    double f64;
  } num{};
  std::string_view str;  // STRING (points into the mapping)
  // ARRAY
  GgufType arr_type = GgufType::UINT8;
  uint64_t arr_count = 0;
  const uint8_t* arr_data = nullptr;      // numeric arrays: packed little-endian elements in the mapping
  std::vector<std::string_view> arr_str;  // string arrays
  uint64_t file_offset = 0;               // where the record starts (for messages)
  uint64_t record_bytes = 0;              // the whole record: key, type, value (copied as is by the splitter)

  bool is_integer() const;
  // Integer value of any integer/bool type; throws naming the key when the value is not an integer.
  int64_t as_int() const;
  double as_float() const;  // any numeric type
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type;
  int n_dims;
  int64_t ne[4];       // ne[0] is contiguous; missing dims are 1
  uint64_t offset;     // relative to the data section
  uint64_t nbytes;
  uint64_t info_offset;  // where the info record starts in the file
  uint32_t part = 0;     // split models: which file holds the data (GgufFile::part), 0 for a single file
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class GgufFile {
 public:
  // Opens, maps and validates the whole header. Throws Error.
  static std::shared_ptr<GgufFile> open(const std::string& path);
  // Parses a header from bytes already in memory (tests, fuzzing); the data must outlive the object.
  static std::shared_ptr<GgufFile> parse(const uint8_t* data, uint64_t size, const std::string& name);
  // A model: the file at `path`, or, when that file is one part of a model written by llama-gguf-split
  // (PREFIX-0000K-of-0000N.gguf, split.count N > 1), all N parts found by that naming scheme and mapped:
  // the metadata of part 1 and the tensors of every part (GgufTensorInfo::part names the file holding a
  // tensor's data). Any part's path will do. A missing or broken part, parts that disagree, a tensor in
  // two parts or a total that is not split.tensors.count: one Error naming the file.
  static std::shared_ptr<GgufFile> open_model(const std::string& path);

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return size_; }
  const std::string& path() const { return path_; }
  // The files that hold the tensor data: this one alone, or the parts of a split model in order (part 0
  // is this object, which also holds the metadata and the merged tensor list).
  size_t n_parts() const { return 1 + other_parts_.size(); }
  const GgufFile& part(size_t i) const { return i == 0 ? *this : *other_parts_[i - 1]; }
  uint64_t total_size() const { return total_size_; }  // bytes of all parts

  const std::vector<GgufKV>& kvs() const { return kvs_; }
  const GgufKV* find(std::string_view key) const;
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  const uint8_t* tensor_data(const GgufTensorInfo& t) const {
    const GgufFile& p = part(t.part);
    return p.base_ + p.data_offset_ + t.offset;
  }
  const uint8_t* base() const { return base_; }
  // The mapping that holds t's data (null for a parsed buffer).
  const MappedFile* mapping(const GgufTensorInfo& t) const { return part(t.part).map_.get(); }
  // Throws Error when any part's file changed on disk (size or modification time) since it was mapped
  // (MappedFile::check_unchanged): one fstat per part. Nothing for a parsed buffer.
  void check_unchanged() const {
    for (size_t i = 0; i < n_parts(); i++)
      if (const MappedFile* m = part(i).map_.get()) m->check_unchanged();
  }

  // Typed getters; `fallback` is returned when the key is absent; a key of the wrong type throws.
  std::string get_str(std::string_view key, const std::string& fallback = "") const;
  int64_t get_int(std::string_view key, int64_t fallback) const;
  double get_float(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

 private:
  void parse_all();
  void merge_parts(std::vector<std::shared_ptr<GgufFile>> parts);

  std::string path_;
  std::unique_ptr<MappedFile> map_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKV> kvs_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
  std::vector<std::shared_ptr<GgufFile>> other_parts_;  // split models: parts 2..N
  uint64_t total_size_ = 0;
};

}  // namespace llama4
