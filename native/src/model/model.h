// A loaded model: the mapped GGUF, its hyper-parameters and views of every weight it uses. Tensors are
// requested by name-table id with an expected shape; a missing or mis-shaped tensor is an Error naming it.
// Weights are used in place from the mapping (small norm vectors are converted to f32 copies).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/hparams.h"
#include "ops/matmul.h"
#include "ops/packed.h"
#include "runtime/memory.h"

namespace llama4 {

// A weight of up to 3 dims; for expert stacks ne[2] is the expert count.
struct Weight {
  const GgufTensorInfo* info = nullptr;
  GgmlType type = GgmlType::F32;
  int64_t ne[3] = {1, 1, 1};
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  const uint8_t* packed = nullptr;  // the whole 8-row groups in the type's packed layout (ops/packed.h), or null
  size_t group_bytes = 0;
  explicit operator bool() const { return info != nullptr; }
  WeightView view() const { return WeightView{type, ne[0], ne[1], row_bytes, data, packed, group_bytes}; }
  WeightView expert(int64_t e) const {  // slab e of a [n_in, n_out, n_expert] stack
    return WeightView{type, ne[0], ne[1], row_bytes, data + (size_t)e * row_bytes * (size_t)ne[1],
                      packed ? packed + (size_t)e * (size_t)(ne[1] / kPackRows) * group_bytes : nullptr, group_bytes};
  }
  uint64_t bytes() const { return info ? info->nbytes : 0; }
};

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm;  // [n_embd] f32
  Weight wq, wk, wv, wo;
  Weight ffn_gate, ffn_up, ffn_down;                 // dense layers
  Weight ffn_gate_inp;                               // router [n_embd, n_expert]
  Weight ffn_gate_exps, ffn_up_exps, ffn_down_exps;  // [n_embd, n_ff_exp, n_expert] / [n_ff_exp, n_embd, n_expert]
  Weight ffn_gate_shexp, ffn_up_shexp, ffn_down_shexp;  // llama4 shared expert
};

struct Model {
  std::shared_ptr<GgufFile> file;  // the metadata and every tensor, across the parts of a split model
  Hparams hp;
  Weight tok_embd;             // [n_embd, n_vocab]
  Weight output;               // [n_embd, n_vocab] (= tok_embd when tied)
  bool output_tied = false;
  std::vector<float> output_norm;  // [n_embd]
  std::vector<float> rope_freqs;   // [n_rot/2] or empty
  std::vector<LayerWeights> layers;
  std::vector<PackedWeights> packed;  // owned packed copies the Weights' `packed` point into
  std::vector<WeightBuffer> resident;  // owned plain copies (types without a packed layout) `data` points into
  uint64_t packed_bytes = 0;
  uint64_t resident_bytes = 0;
  double pack_seconds = 0;

  uint64_t n_params = 0;           // all tensors
  uint64_t weight_bytes = 0;       // all tensor data
  // Bytes of weights read to decode one token (every matrix but the embedding gather; for MoE layers
  // only expert_used_count experts).
  uint64_t bytes_per_token() const;
  std::string describe() const;    // "llama 135M Q4_1"-style label
};

struct LoadOptions {
  // Copy the matrices of types with a packed layout and kernel (ops/packed.h) into it at load time, as
  // llama.cpp's CPU_REPACK buffers do, and the other matrices into plain copies: all on huge pages
  // (decode streams every weight each token), with the mapped pages released.
  bool repack = true;
  int n_threads = 1;  // threads for repacking
};
// `path`: a GGUF, or any part of a split model (GgufFile::open_model).
std::shared_ptr<Model> load_model(const std::string& path, const LoadOptions& opt = {});
// The repacking step of load_model (for callers that check memory first), on n_threads threads. With
// `progress`, progress[0] / progress[1] are set to the weight bytes copied so far / in all (as doubles,
// stored atomically: another thread may read them while the load runs).
void pack_model(Model& m, int n_threads, double* progress = nullptr);

}  // namespace llama4
