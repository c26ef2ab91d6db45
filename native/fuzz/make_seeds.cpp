// Writes the seed corpora and the libFuzzer dictionary into a directory (scripts/fuzz.sh calls it):
//   make_seeds OUT [SMALL.gguf ...]
// OUT/{gguf,model,split,depth_gates}/: tiny models of every loader path (dense, experts, llama4, tied
// output, quantized matrices, in-model depth gates, 64-byte alignment), adapters of each gate kind, split
// sets; and, for the header parser, the first bytes of each GGUF given (at most 64 KiB: the header of a
// small model, the start of a vocab file's token list). OUT/gguf.dict: every key and tensor name from the
// name table, bare and with its u64 length prefix.
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "gguf_builder.h"
#include "model/gguf.h"
#include "model/names.h"

using namespace llama4;
using fuzz::GgufBuilder;
using fuzz::TinyModel;

namespace {

std::string out_dir;

void seed(const std::string& target, const std::string& name, const std::vector<uint8_t>& bytes) {
  fuzz::write_file(out_dir + "/" + target + "/" + name, bytes.data(), bytes.size());
}

std::vector<uint8_t> concat(const std::vector<std::vector<uint8_t>>& parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The parts of tm cut into n slices of its tensors, as llama-gguf-split writes them.
std::vector<std::vector<uint8_t>> split_parts(const TinyModel& tm, size_t n) {
  const size_t total = tm.tensor_count(), per = (total + n - 1) / n;
  std::vector<std::vector<uint8_t>> parts;
  for (size_t k = 0; k < n; k++) {
    GgufBuilder b = k == 0 ? tm.builder() : GgufBuilder();
    b.u16(kv_name(Kv::SPLIT_NO, ""), (uint16_t)k);
    b.i32(kv_name(Kv::SPLIT_TENSORS_COUNT, ""), (int32_t)total);
    b.u16(kv_name(Kv::SPLIT_COUNT, ""), (uint16_t)n);
    tm.add_tensors(b, k * per, (k + 1) * per);
    parts.push_back(b.build());
  }
  return parts;
}

void escape_into(std::string& out, const std::string& bytes) {
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') out += (char)c;
    else out += strfmt("\\x%02x", c);
  }
}

void write_dict() {
  std::vector<std::string> words = {"GGUF"};
  for (int k = 0; k < (int)Kv::COUNT; k++)
    for (const char* arch : {"llama", "llama4"}) words.push_back(kv_name((Kv)k, arch));
  for (int t = 0; t < (int)Tn::COUNT; t++)
    for (const char* suffix : {"weight", "bias"}) words.push_back(tensor_name((Tn)t, 0, suffix));
  std::string dict;
  int i = 0;
  for (const std::string& w : words) {
    dict += strfmt("w%d=\"", i++);
    escape_into(dict, w);
    dict += "\"\n";
    const uint64_t len = w.size();
    dict += strfmt("w%d=\"", i++);
    escape_into(dict, std::string((const char*)&len, 8) + w);
    dict += "\"\n";
  }
  fuzz::write_file(out_dir + "/gguf.dict", (const uint8_t*)dict.data(), dict.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_seeds OUT [SMALL.gguf ...]\n");
    return 2;
  }
  out_dir = argv[1];
  mkdir(out_dir.c_str(), 0755);
  for (const char* t : {"gguf", "model", "split", "depth_gates"}) mkdir((out_dir + "/" + t).c_str(), 0755);

  // models: each loader path once
  std::vector<std::pair<std::string, TinyModel>> models;
  TinyModel dense;
  models.push_back({"dense-f32", dense});
  TinyModel tied = dense;
  tied.tied_output = true;
  models.push_back({"dense-tied", tied});
  TinyModel moe;
  moe.kind = TinyModel::Kind::Moe;
  models.push_back({"moe-f32", moe});
  TinyModel l4;
  l4.kind = TinyModel::Kind::Llama4;
  models.push_back({"llama4-f32", l4});
  for (GgmlType q : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::F16}) {
    TinyModel qm;
    qm.n_embd = 32, qm.n_ff = 32, qm.n_head = 2, qm.n_head_kv = 2, qm.n_layer = 1, qm.matrix_type = q;
    models.push_back({std::string("dense-") + type_name(q), qm});
  }
  for (auto& [name, tm] : models) {
    const std::vector<uint8_t> f = tm.file();
    seed("model", name + ".gguf", f);
    seed("gguf", name + ".gguf", f);
  }
  {  // 64-byte alignment
    GgufBuilder b = dense.builder();
    b.u32(kv_name(Kv::GENERAL_ALIGNMENT, ""), 64);
    dense.add_tensors(b);
    seed("model", "dense-align64.gguf", b.build(64));
  }
  {  // depth gates inside the model
    TinyModel g = dense;
    g.n_layer = 3;
    GgufBuilder b = g.builder();
    b.u32(kv_name(Kv::DEPTH_GATE_VERSION, ""), 2);
    b.f32(kv_name(Kv::DEPTH_GATE_THRESHOLD, ""), 0.5f);
    g.add_tensors(b);
    b.tensor(tensor_name(Tn::DEPTH_GATE_ATTN, 1, "weight"), {(int64_t)g.n_embd});
    b.tensor(tensor_name(Tn::DEPTH_GATE_ATTN, 1, "bias"), {1});
    b.tensor(tensor_name(Tn::DEPTH_GATE_FFN, 1, "weight"), {(int64_t)g.n_embd});
    b.tensor(tensor_name(Tn::DEPTH_GATE_FFN, 1, "bias"), {1});
    seed("model", "dense-gates.gguf", b.build());
  }

  // adapters for the depth-gate target's model (n_embd 8, 4 blocks)
  seed("depth_gates", "v1-block.gguf", fuzz::tiny_adapter(8, 4, {Tn::DEPTH_GATE}, 1, false));
  seed("depth_gates", "v2-block.gguf", fuzz::tiny_adapter(8, 4, {Tn::DEPTH_GATE}));
  seed("depth_gates", "v2-attn.gguf", fuzz::tiny_adapter(8, 4, {Tn::DEPTH_GATE_ATTN}));
  seed("depth_gates", "v2-ffn.gguf", fuzz::tiny_adapter(8, 4, {Tn::DEPTH_GATE_FFN}));
  seed("depth_gates", "v2-sublayer.gguf", fuzz::tiny_adapter(8, 4, {Tn::DEPTH_GATE_ATTN, Tn::DEPTH_GATE_FFN}));
  seed("gguf", "adapter-v2.gguf", fuzz::tiny_adapter(8, 4, {Tn::DEPTH_GATE, Tn::DEPTH_GATE_FFN}));

  // split sets, the parts concatenated (the split target cuts before each magic)
  for (size_t n : {2, 3}) {
    const auto parts = split_parts(dense, n);
    seed("split", strfmt("dense-%zu-parts.gguf", n), concat(parts));
    for (size_t k = 0; k < n; k++) seed("gguf", strfmt("dense-part-%zu-of-%zu.gguf", k + 1, n), parts[k]);
  }
  seed("split", "moe-2-parts.gguf", concat(split_parts(moe, 2)));
  seed("split", "single.gguf", dense.file());

  // the first bytes of the small shared files
  for (int i = 2; i < argc; i++) {
    std::shared_ptr<GgufFile> f = GgufFile::open(argv[i]);
    std::string name = argv[i];
    name = name.substr(name.find_last_of('/') + 1);
    const uint64_t n = std::min<uint64_t>(f->data_offset(), 64 * 1024);
    seed("gguf", "head-" + name, std::vector<uint8_t>(f->base(), f->base() + n));
  }
  write_dict();
  std::printf("seeds written to %s\n", out_dir.c_str());
  return 0;
}
