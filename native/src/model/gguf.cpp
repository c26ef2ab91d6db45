#include "model/gguf.h"

#include <algorithm>
#include <cstring>

#include "model/names.h"
#include "runtime/error.h"
#include "runtime/mmap_file.h"

namespace llama4 {

namespace {

constexpr uint64_t kMaxStringLen = 1ull << 30;  // llama.cpp's limit
constexpr uint64_t kMaxArrayCount = 1ull << 30;
constexpr size_t kMaxTensorName = 63;           // GGML_MAX_NAME - 1
constexpr int kMaxDims = 4;

const char* const kGgufTypeNames[kGgufTypeCount] = {"u8",  "i8",  "u16",  "i16",    "u32", "i32", "f32",
                                                    "bool", "str", "array", "u64", "i64", "f64"};
const size_t kGgufTypeSizes[kGgufTypeCount] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

// A bounds-checked little-endian cursor. Every failure names the byte offset where it happened.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& name) : d_(data), n_(size), name_(name) {}

  [[noreturn]] void fail(uint64_t at, const std::string& what) const {
    throw Error(strfmt("invalid GGUF '%s': %s (at byte offset %llu)", name_.c_str(), what.c_str(),
                       (unsigned long long)at));
  }
  uint64_t pos() const { return p_; }
  uint64_t remaining() const { return n_ - p_; }
  void need(uint64_t bytes, const char* what) const {
    if (bytes > remaining())
      fail(p_, strfmt("file truncated: %s needs %llu bytes, %llu left", what, (unsigned long long)bytes,
                      (unsigned long long)remaining()));
  }
  template <typename V>
  V read(const char* what) {
    need(sizeof(V), what);
    V v;
    std::memcpy(&v, d_ + p_, sizeof(V));
    p_ += sizeof(V);
    return v;
  }
  std::string_view read_str(const char* what) {
    const uint64_t at = p_;
    uint64_t len = read<uint64_t>(what);
    if (len > kMaxStringLen) fail(at, strfmt("%s length %llu is absurd", what, (unsigned long long)len));
    need(len, what);
    std::string_view s((const char*)d_ + p_, (size_t)len);
    p_ += len;
    return s;
  }
  const uint8_t* skip(uint64_t bytes, const char* what) {
    need(bytes, what);
    const uint8_t* at = d_ + p_;
    p_ += bytes;
    return at;
  }
  void seek(uint64_t to) { p_ = to; }

 private:
  const uint8_t* d_;
  uint64_t n_;
  uint64_t p_ = 0;
  const std::string& name_;
};

}  // namespace

const char* gguf_type_name(GgufType t) {
  return (uint32_t)t < kGgufTypeCount ? kGgufTypeNames[(uint32_t)t] : "?";
}
size_t gguf_type_size(GgufType t) { return (uint32_t)t < kGgufTypeCount ? kGgufTypeSizes[(uint32_t)t] : 0; }

bool GgufKV::is_integer() const {
  switch (type) {
    case GgufType::UINT8: case GgufType::INT8: case GgufType::UINT16: case GgufType::INT16:
    case GgufType::UINT32: case GgufType::INT32: case GgufType::UINT64: case GgufType::INT64:
    case GgufType::BOOL:
      return true;
    default:
      return false;
  }
}

int64_t GgufKV::as_int() const {
  if (!is_integer()) LLAMA4_THROW("metadata key '%s' is %s, expected an integer", key.c_str(), gguf_type_name(type));
  if (type == GgufType::UINT64 && num.u64 > (uint64_t)INT64_MAX)
    LLAMA4_THROW("metadata key '%s' value %llu is out of range", key.c_str(), (unsigned long long)num.u64);
  return num.i64;
}

double GgufKV::as_float() const {
  if (type == GgufType::FLOAT32 || type == GgufType::FLOAT64) return num.f64;
  if (!is_integer()) LLAMA4_THROW("metadata key '%s' is %s, expected a number", key.c_str(), gguf_type_name(type));
  return (double)as_int();
}

std::shared_ptr<GgufFile> GgufFile::open(const std::string& path) {
  auto f = std::shared_ptr<GgufFile>(new GgufFile());
  f->path_ = path;
  f->map_ = std::make_unique<MappedFile>(path);
  f->base_ = f->map_->data();
  f->size_ = f->map_->size();
  f->parse_all();
  return f;
}

std::shared_ptr<GgufFile> GgufFile::parse(const uint8_t* data, uint64_t size, const std::string& name) {
  auto f = std::shared_ptr<GgufFile>(new GgufFile());
  f->path_ = name;
  f->base_ = data;
  f->size_ = size;
  f->parse_all();
  return f;
}

void GgufFile::parse_all() {
  Cursor c(base_, size_, path_);
  // Magic, byte-wise.
  if (size_ < 4 || std::memcmp(base_, "GGUF", 4) != 0) {
    if (size_ < 4) c.fail(0, "file truncated: shorter than the 4-byte magic");
    c.fail(0, strfmt("bad magic %02x %02x %02x %02x (expected 'GGUF')", base_[0], base_[1], base_[2], base_[3]));
  }
  c.seek(4);
  version_ = c.read<uint32_t>("version");
  if ((version_ & 0xFFFF) == 0) c.fail(4, strfmt("version 0x%08x looks byte-swapped: big-endian GGUF is not supported", version_));
  if (version_ < 2 || version_ > 3) c.fail(4, strfmt("unsupported GGUF version %u (2 and 3 are supported)", version_));

  const uint64_t n_tensors_at = c.pos();
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv_at = c.pos();
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each KV record takes at least 8 (key length) + 1 (key) + 4 (type) + 1 (value) bytes and each tensor
  // info at least 8 + 1 + 4 + 4 + 8 (no dims): counts that cannot fit in the file are rejected before any
  // allocation.
  if (n_kv > c.remaining() / 14)
    c.fail(n_kv_at, strfmt("metadata count %llu cannot fit in a %llu-byte file", (unsigned long long)n_kv, (unsigned long long)size_));
  if (n_tensors > c.remaining() / 25)
    c.fail(n_tensors_at, strfmt("tensor count %llu cannot fit in a %llu-byte file", (unsigned long long)n_tensors, (unsigned long long)size_));

  kvs_.reserve((size_t)n_kv);
  for (uint64_t i = 0; i < n_kv; i++) {
    GgufKV kv;
    kv.file_offset = c.pos();
    std::string_view key = c.read_str("metadata key");
    if (key.empty()) c.fail(kv.file_offset, strfmt("metadata key #%llu is empty", (unsigned long long)i));
    kv.key.assign(key);
    const uint64_t type_at = c.pos();
    const uint32_t type = c.read<uint32_t>("metadata value type");
    if (type >= kGgufTypeCount)
      c.fail(type_at, strfmt("metadata key '%s' has unknown value type %u", kv.key.c_str(), type));
    kv.type = (GgufType)type;
    auto read_scalar = [&](GgufType t, GgufKV& out) {
      switch (t) {
        case GgufType::UINT8: out.num.u64 = c.read<uint8_t>("u8 value"); break;
        case GgufType::INT8: out.num.i64 = c.read<int8_t>("i8 value"); break;
        case GgufType::UINT16: out.num.u64 = c.read<uint16_t>("u16 value"); break;
        case GgufType::INT16: out.num.i64 = c.read<int16_t>("i16 value"); break;
        case GgufType::UINT32: out.num.u64 = c.read<uint32_t>("u32 value"); break;
        case GgufType::INT32: out.num.i64 = c.read<int32_t>("i32 value"); break;
        case GgufType::FLOAT32: out.num.f64 = c.read<float>("f32 value"); break;
        case GgufType::BOOL: out.num.u64 = c.read<uint8_t>("bool value") != 0; break;
        case GgufType::UINT64: out.num.u64 = c.read<uint64_t>("u64 value"); break;
        case GgufType::INT64: out.num.i64 = c.read<int64_t>("i64 value"); break;
        case GgufType::FLOAT64: out.num.f64 = c.read<double>("f64 value"); break;
        case GgufType::STRING: out.str = c.read_str("string value"); break;
        default: break;
      }
    };
    if (kv.type == GgufType::ARRAY) {
      const uint64_t at = c.pos();
      const uint32_t et = c.read<uint32_t>("array element type");
      if (et >= kGgufTypeCount || et == (uint32_t)GgufType::ARRAY)
        c.fail(at, strfmt("metadata key '%s': unsupported array element type %u", kv.key.c_str(), et));
      kv.arr_type = (GgufType)et;
      const uint64_t count_at = c.pos();
      kv.arr_count = c.read<uint64_t>("array length");
      if (kv.arr_count > kMaxArrayCount)
        c.fail(count_at, strfmt("metadata key '%s': array length %llu is absurd", kv.key.c_str(), (unsigned long long)kv.arr_count));
      if (kv.arr_type == GgufType::STRING) {
        if (kv.arr_count > c.remaining() / 8)
          c.fail(count_at, strfmt("metadata key '%s': %llu strings cannot fit in the %llu bytes left", kv.key.c_str(),
                                  (unsigned long long)kv.arr_count, (unsigned long long)c.remaining()));
        kv.arr_str.reserve((size_t)kv.arr_count);
        for (uint64_t j = 0; j < kv.arr_count; j++) kv.arr_str.push_back(c.read_str("array string"));
      } else {
        const uint64_t es = gguf_type_size(kv.arr_type);
        uint64_t bytes;
        if (mul_overflows(es, kv.arr_count, &bytes) || bytes > c.remaining())
          c.fail(count_at, strfmt("file truncated: metadata key '%s' array of %llu %s needs more bytes than the %llu left",
                                  kv.key.c_str(), (unsigned long long)kv.arr_count, gguf_type_name(kv.arr_type),
                                  (unsigned long long)c.remaining()));
        kv.arr_data = c.skip(bytes, "array data");
      }
    } else {
      read_scalar(kv.type, kv);
    }
    kv.record_bytes = c.pos() - kv.file_offset;
    kvs_.push_back(std::move(kv));
  }
  for (size_t i = 0; i < kvs_.size(); i++) {
    if (!kv_index_.emplace(kvs_[i].key, i).second)
      c.fail(kvs_[i].file_offset, strfmt("duplicate metadata key '%s'", kvs_[i].key.c_str()));
  }

  if (const GgufKV* a = find("general.alignment")) {
    if (a->type != GgufType::UINT32)
      c.fail(a->file_offset, strfmt("general.alignment must be u32, found %s", gguf_type_name(a->type)));
    const uint64_t v = a->num.u64;
    if (v == 0 || (v & (v - 1)) != 0)
      c.fail(a->file_offset, strfmt("general.alignment %llu is not a power of two", (unsigned long long)v));
    alignment_ = (uint32_t)v;
  }

  tensors_.reserve((size_t)n_tensors);
  for (uint64_t i = 0; i < n_tensors; i++) {
    GgufTensorInfo t;
    t.info_offset = c.pos();
    std::string_view name = c.read_str("tensor name");
    if (name.empty()) c.fail(t.info_offset, strfmt("tensor #%llu has an empty name", (unsigned long long)i));
    if (name.size() > kMaxTensorName)
      c.fail(t.info_offset, strfmt("tensor #%llu name is %zu bytes (at most %zu)", (unsigned long long)i, name.size(), kMaxTensorName));
    t.name.assign(name);
    const uint64_t nd_at = c.pos();
    const uint32_t n_dims = c.read<uint32_t>("tensor dimension count");
    if (n_dims > (uint32_t)kMaxDims)
      c.fail(nd_at, strfmt("tensor '%s' has %u dimensions (at most %d)", t.name.c_str(), n_dims, kMaxDims));
    t.n_dims = (int)n_dims;
    for (int d = 0; d < kMaxDims; d++) t.ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
      const uint64_t at = c.pos();
      const uint64_t v = c.read<uint64_t>("tensor dimension");
      if (v > (uint64_t)INT64_MAX)
        c.fail(at, strfmt("tensor '%s' dimension %u is negative or absurd (%llu)", t.name.c_str(), d, (unsigned long long)v));
      t.ne[d] = (int64_t)v;
    }
    const uint64_t type_at = c.pos();
    const uint32_t type = c.read<uint32_t>("tensor type");
    if (!type_id_known(type)) c.fail(type_at, strfmt("tensor '%s' has unknown type id %u", t.name.c_str(), type));
    t.type = (GgmlType)type;
    const TypeTraits& tt = type_traits(t.type);
    uint64_t nel = 1;
    for (int d = 0; d < kMaxDims; d++) {
      if (mul_overflows(nel, (uint64_t)t.ne[d], &nel) || nel > (uint64_t)INT64_MAX)
        c.fail(nd_at, strfmt("tensor '%s' element count overflows 64 bits", t.name.c_str()));
    }
    if (t.ne[0] % tt.blck_size != 0)
      c.fail(nd_at, strfmt("tensor '%s' row length %lld is not a multiple of the %s block size %lld", t.name.c_str(),
                           (long long)t.ne[0], tt.name, (long long)tt.blck_size));
    if (mul_overflows(nel / (uint64_t)tt.blck_size, tt.type_size, &t.nbytes))
      c.fail(nd_at, strfmt("tensor '%s' byte size overflows 64 bits", t.name.c_str()));
    const uint64_t off_at = c.pos();
    t.offset = c.read<uint64_t>("tensor data offset");
    if (t.offset % alignment_ != 0)
      c.fail(off_at, strfmt("tensor '%s' data offset %llu is not aligned to %u", t.name.c_str(),
                            (unsigned long long)t.offset, alignment_));
    (void)off_at;
    tensors_.push_back(std::move(t));
  }

  // Data section: the aligned end of the tensor infos.
  const uint64_t end_of_infos = c.pos();
  if (n_tensors == 0) {
    data_offset_ = end_of_infos;
  } else {
    uint64_t padded;
    if (add_overflows(end_of_infos, alignment_ - 1, &padded)) c.fail(end_of_infos, "data offset overflows");
    data_offset_ = padded / alignment_ * alignment_;
    if (data_offset_ > size_)
      c.fail(end_of_infos, strfmt("file truncated: data section would start at %llu, past the end of the %llu-byte file",
                                  (unsigned long long)data_offset_, (unsigned long long)size_));
  }
  const uint64_t data_size = size_ - data_offset_;
  for (const GgufTensorInfo& t : tensors_) {
    uint64_t end;
    if (add_overflows(t.offset, t.nbytes, &end) || end > data_size)
      c.fail(t.info_offset, strfmt("tensor '%s' data [%llu, +%llu) lies outside the %llu-byte data section (file truncated?)",
                                   t.name.c_str(), (unsigned long long)t.offset, (unsigned long long)t.nbytes,
                                   (unsigned long long)data_size));
  }
  for (size_t i = 0; i < tensors_.size(); i++) {
    if (!tensor_index_.emplace(tensors_[i].name, i).second)
      c.fail(tensors_[i].info_offset, strfmt("duplicate tensor name '%s'", tensors_[i].name.c_str()));
  }
  // No two tensors share bytes: no writer produces that (llama.cpp even requires the data packed in info
  // order), so aliased weights are a crafted file. Zero-byte tensors occupy nothing.
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensorInfo& t : tensors_)
    if (t.nbytes > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  const GgufTensorInfo* reach = nullptr;  // of the tensors before b, the one whose data ends last
  for (const GgufTensorInfo* bp : by_offset) {
    const GgufTensorInfo& b = *bp;
    if (reach && b.offset < reach->offset + reach->nbytes) {
      const GgufTensorInfo& a = *reach;
      c.fail(b.info_offset, strfmt("tensor '%s' data [%llu, +%llu) overlaps tensor '%s' data [%llu, +%llu)", b.name.c_str(),
                                   (unsigned long long)b.offset, (unsigned long long)b.nbytes, a.name.c_str(),
                                   (unsigned long long)a.offset, (unsigned long long)a.nbytes));
    }
    if (!reach || b.offset + b.nbytes > reach->offset + reach->nbytes) reach = bp;
  }
  total_size_ = size_;
}

// ---- split models (llama-gguf-split) ----
//
// Part k (0-based) of N is named PREFIX-%05d-of-%05d.gguf with k+1 and N; every part is a whole GGUF whose
// split.no is k and split.count N; part 0 holds the model's metadata and split.tensors.count, the number
// of tensors over all parts; each part lists only the tensors whose data it holds.

namespace {

std::string split_path(const std::string& prefix, uint32_t no, uint32_t count) {
  return strfmt("%s-%05u-of-%05u.gguf", prefix.c_str(), no + 1, count);
}

// The PREFIX of a path named as part `no` of `count`; false when the name does not end that way.
bool split_prefix(const std::string& path, uint32_t no, uint32_t count, std::string* prefix) {
  const std::string tail = strfmt("-%05u-of-%05u.gguf", no + 1, count);
  if (path.size() <= tail.size() || path.compare(path.size() - tail.size(), tail.size(), tail) != 0) return false;
  *prefix = path.substr(0, path.size() - tail.size());
  return true;
}

// An integer split key of f in [0, max], or -1 when absent.
int64_t split_key(const GgufFile& f, Kv k, int64_t max) {
  const GgufKV* kv = f.find(kv_name(k, ""));
  if (!kv) return -1;
  if (!kv->is_integer())
    LLAMA4_THROW("'%s': %s is %s, expected an integer", f.path().c_str(), kv->key.c_str(), gguf_type_name(kv->type));
  const int64_t v = kv->as_int();
  if (v < 0 || v > max) LLAMA4_THROW("'%s': %s %lld is out of range (0 .. %lld)", f.path().c_str(), kv->key.c_str(), (long long)v, (long long)max);
  return v;
}

// Whether two metadata records hold the same type and value (their encoded bytes after the key).
bool same_value(const GgufFile& fa, const GgufKV& a, const GgufFile& fb, const GgufKV& b) {
  const uint64_t head = 8 + a.key.size();  // u64 key length + key, the same in both
  if (a.record_bytes != b.record_bytes) return false;
  return std::memcmp(fa.base() + a.file_offset + head, fb.base() + b.file_offset + head, a.record_bytes - head) == 0;
}

}  // namespace

std::shared_ptr<GgufFile> GgufFile::open_model(const std::string& path) {
  std::shared_ptr<GgufFile> given = open(path);
  const int64_t count = split_key(*given, Kv::SPLIT_COUNT, UINT16_MAX);
  if (count <= 1) return given;  // a single file (llama.cpp loads split.count 0 or 1 as one)
  const uint32_t n = (uint32_t)count;
  const int64_t no = split_key(*given, Kv::SPLIT_NO, UINT16_MAX);
  if (no < 0) LLAMA4_THROW("'%s': split.count is %u but split.no is missing", path.c_str(), n);
  if (no >= count) LLAMA4_THROW("'%s': split.no %lld is not below split.count %u", path.c_str(), (long long)no, n);
  std::string prefix;
  if (!split_prefix(path, (uint32_t)no, n, &prefix))
    LLAMA4_THROW("'%s' is part %lld of a %u-part split model but is not named PREFIX%s, so its other parts cannot be found",
                 path.c_str(), (long long)no + 1, n, strfmt("-%05u-of-%05u.gguf", (uint32_t)no + 1, n).c_str());
  std::vector<std::shared_ptr<GgufFile>> parts(n);
  parts[(size_t)no] = given;
  for (uint32_t i = 0; i < n; i++) {
    if (parts[i]) continue;
    const std::string p = split_path(prefix, i, n);
    if (!file_exists(p)) LLAMA4_THROW("split model '%s': part %u of %u '%s' is missing", path.c_str(), i + 1, n, p.c_str());
    try {
      parts[i] = open(p);
    } catch (const Error& e) {
      LLAMA4_THROW("split model '%s': part %u of %u: %s", path.c_str(), i + 1, n, e.what());
    }
  }
  for (uint32_t i = 0; i < n; i++) {
    const GgufFile& f = *parts[i];
    const int64_t c = split_key(f, Kv::SPLIT_COUNT, UINT16_MAX), k = split_key(f, Kv::SPLIT_NO, UINT16_MAX);
    auto said = [](int64_t v) { return v < 0 ? std::string("nothing (no key)") : std::to_string(v); };
    if (c != count)
      LLAMA4_THROW("split model '%s': part %u '%s' gives split.count %s, its name and '%s' say %u", path.c_str(), i + 1,
                   f.path().c_str(), said(c).c_str(), path.c_str(), n);
    if (k != (int64_t)i)
      LLAMA4_THROW("split model '%s': part %u '%s' gives split.no %s, expected %u", path.c_str(), i + 1, f.path().c_str(),
                   said(k).c_str(), i);
  }
  std::shared_ptr<GgufFile> first = parts[0];
  first->merge_parts(std::move(parts));
  return first;
}

// Appends the tensors of parts 1..N-1 to this file's (part 0) list, each with its part index, and checks
// the whole against split.tensors.count.
void GgufFile::merge_parts(std::vector<std::shared_ptr<GgufFile>> parts) {
  const int64_t expected = split_key(*this, Kv::SPLIT_TENSORS_COUNT, INT32_MAX);
  if (expected < 0) LLAMA4_THROW("'%s': split.tensors.count is missing (part 1 of a split model must have it)", path_.c_str());
  uint64_t n_tensors = tensors_.size();
  for (size_t i = 1; i < parts.size(); i++) {
    const int64_t e = split_key(*parts[i], Kv::SPLIT_TENSORS_COUNT, INT32_MAX);
    if (e >= 0 && e != expected)
      LLAMA4_THROW("split model '%s': part %zu '%s' says split.tensors.count %lld, part 1 says %lld", path_.c_str(), i + 1,
                   parts[i]->path().c_str(), (long long)e, (long long)expected);
    // llama-gguf-split writes only the split keys in parts 2..N; a key that a part shares with part 1 but
    // gives another value (architecture, name, ...) means the part belongs to another model
    for (const GgufKV& kv : parts[i]->kvs()) {
      const GgufKV* mine = find(kv.key);
      if (!mine || kv.key == kv_name(Kv::SPLIT_NO, "")) continue;
      if (!same_value(*this, *mine, *parts[i], kv))
        LLAMA4_THROW("split model '%s': part %zu '%s' gives %s another value than part 1 does: it belongs to another model",
                     path_.c_str(), i + 1, parts[i]->path().c_str(), kv.key.c_str());
    }
    n_tensors += parts[i]->tensors().size();
    if (add_overflows(total_size_, parts[i]->file_size(), &total_size_))
      LLAMA4_THROW("split model '%s': the parts' sizes overflow 64 bits", path_.c_str());
  }
  if (n_tensors != (uint64_t)expected)
    LLAMA4_THROW("split model '%s': split.tensors.count is %lld but the %zu parts hold %llu tensors", path_.c_str(),
                 (long long)expected, parts.size(), (unsigned long long)n_tensors);
  tensors_.reserve((size_t)n_tensors);
  for (size_t i = 1; i < parts.size(); i++) {
    for (const GgufTensorInfo& t : parts[i]->tensors()) {
      tensors_.push_back(t);
      tensors_.back().part = (uint32_t)i;
    }
    other_parts_.push_back(std::move(parts[i]));
  }
  // the names are views into tensors_, which may have moved: index again, across parts
  tensor_index_.clear();
  for (size_t i = 0; i < tensors_.size(); i++) {
    auto [it, fresh] = tensor_index_.emplace(tensors_[i].name, i);
    if (!fresh)
      LLAMA4_THROW("split model '%s': tensor '%s' is in both '%s' and '%s'", path_.c_str(), tensors_[i].name.c_str(),
                   part(tensors_[it->second].part).path().c_str(), part(tensors_[i].part).path().c_str());
  }
}

const GgufKV* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second];
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::string GgufFile::get_str(std::string_view key, const std::string& fallback) const {
  const GgufKV* kv = find(key);
  if (!kv) return fallback;
  if (kv->type != GgufType::STRING)
    LLAMA4_THROW("metadata key '%s' is %s, expected a string", kv->key.c_str(), gguf_type_name(kv->type));
  return std::string(kv->str);
}

int64_t GgufFile::get_int(std::string_view key, int64_t fallback) const {
  const GgufKV* kv = find(key);
  return kv ? kv->as_int() : fallback;
}

double GgufFile::get_float(std::string_view key, double fallback) const {
  const GgufKV* kv = find(key);
  return kv ? kv->as_float() : fallback;
}

bool GgufFile::get_bool(std::string_view key, bool fallback) const {
  const GgufKV* kv = find(key);
  return kv ? kv->as_int() != 0 : fallback;
}

}  // namespace llama4
