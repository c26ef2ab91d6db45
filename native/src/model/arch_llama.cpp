// `llama`: Llama 2/3 (GQA, rope_freqs) and Mixtral-style experts (spec 3.3, 3.6).
#include "model/blocks.h"

namespace llama4 {

void forward_llama(Blocks& b, const Hparams& hp, bool all_logits, float* logits) {
  b.embed();
  for (uint32_t il = 0; il < hp.n_layer; il++) {
    b.check_cancel();
    b.route(il);  // depth routing: which tokens run this block and its attention
    b.attention(il, AttnOpts{});  // with KV-fill, skipping tokens still write their K/V here
    if (il + 1 == hp.n_layer) b.keep_output_rows(all_logits);
    if (b.route_ffn(il)) {  // which tokens run its FFN
      if (hp.layer_is_moe(il))
        b.moe_softmax(il);
      else
        b.ffn(il);
    }
    b.end_block(il);
  }
  b.output(all_logits, logits);
}

}  // namespace llama4
