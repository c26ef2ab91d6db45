// Partial selection for the sampler (TS owns the sampler chain; this is its one O(vocab) step, which
// interpreted JS runs slowly until V8 has optimised it: 40 of 512 logits took ~60 us per token over a
// one-shot 128-token run, 1-2 us here).
#pragma once
#include <cstdint>

namespace llama4 {

// Positions of the k largest of v[0..n) in (value descending, position ascending) order, written to
// out[0..k). A size-k min-heap whose root is the worst kept entry; a later position never displaces an
// equal value. Exactly the algorithm of heapPositions() in src/sampling/candidates.ts (the reference the
// tests compare with), so both give the same positions for every input, NaN and -0 included.
void top_k_positions(const float* v, int64_t n, int64_t k, int32_t* out);

// The sampler's candidates (ids, logits, probs: parallel arrays of n entries) reduced in place to their k
// best by logit, in top_k_positions order: entry i of the result is the one at its position i.
void keep_top_k(int32_t* ids, float* logits, float* probs, int64_t n, int64_t k);

}  // namespace llama4
