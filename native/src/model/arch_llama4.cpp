// `llama4` (spec 4.4-4.9): MoE on the layers the interleave step selects (sigmoid top-k on raw router
// logits, weight applied to the expert input, plus a shared expert); every 4th layer is NoPE with full
// causal attention and attention-temperature tuning; the others use RoPE, QK-norm and chunked attention.
#include "model/blocks.h"

namespace llama4 {

void forward_llama4(Blocks& b, const Hparams& hp, bool all_logits, float* logits) {
  b.embed();
  for (uint32_t il = 0; il < hp.n_layer; il++) {
    b.check_cancel();
    b.route(il);  // depth routing: which tokens run this block and its attention
    const bool rope = hp.layer_has_rope(il);
    AttnOpts a;
    a.rope = rope;
    a.qk_norm = rope && hp.use_kq_norm;
    a.temperature = !rope && hp.attn_temp_scale != 0.0f;
    a.chunk = hp.layer_is_chunked(il) ? hp.n_swa : 0;
    b.attention(il, a);  // with KV-fill, skipping tokens still write their K/V here
    if (il + 1 == hp.n_layer) b.keep_output_rows(all_logits);
    if (b.route_ffn(il)) {  // which tokens run its FFN
      if (hp.layer_is_moe(il))
        b.moe_sigmoid_shared(il);
      else
        b.ffn(il);
    }
    b.end_block(il);
  }
  b.output(all_logits, logits);
}

}  // namespace llama4
