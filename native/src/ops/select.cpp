#include "ops/select.h"

#include <cstddef>
#include <vector>

namespace llama4 {

namespace {

// "worse": lower value, or equal value and later position (the heap's root is the worst kept)
inline bool worse(float va, int32_t pa, float vb, int32_t pb) { return va < vb || (va == vb && pa > pb); }

void sift_down(int32_t* hp, float* hv, int64_t k, int64_t i) {
  const int32_t p = hp[i];
  const float v = hv[i];
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= k) break;
    const int64_t r = c + 1;
    if (r < k && worse(hv[r], hp[r], hv[c], hp[c])) c = r;
    if (!worse(hv[c], hp[c], v, p)) break;
    hp[i] = hp[c];
    hv[i] = hv[c];
    i = c;
  }
  hp[i] = p;
  hv[i] = v;
}

}  // namespace

void top_k_positions(const float* v, int64_t n, int64_t k, int32_t* out) {
  if (k > n) k = n;
  if (k <= 0) return;
  std::vector<int32_t> hp((size_t)k);
  std::vector<float> hv((size_t)k);
  for (int64_t i = 0; i < k; i++) {
    hp[i] = (int32_t)i;
    hv[i] = v[i];
  }
  for (int64_t i = (k >> 1) - 1; i >= 0; i--) sift_down(hp.data(), hv.data(), k, i);
  float root = hv[0];
  for (int64_t i = k; i < n; i++) {
    if (v[i] > root) {  // false for NaN, as in the JS reference
      hp[0] = (int32_t)i;
      hv[0] = v[i];
      sift_down(hp.data(), hv.data(), k, 0);
      root = hv[0];
    }
  }
  // pop the worst k times: the root is the last in output order
  for (int64_t m = k; m > 0; m--) {
    out[m - 1] = hp[0];
    hp[0] = hp[m - 1];
    hv[0] = hv[m - 1];
    sift_down(hp.data(), hv.data(), m - 1, 0);
  }
}

void keep_top_k(int32_t* ids, float* logits, float* probs, int64_t n, int64_t k) {
  if (k > n) k = n;
  if (k <= 0) return;
  std::vector<int32_t> pos((size_t)k), id((size_t)k);
  std::vector<float> lg((size_t)k), pr((size_t)k);
  top_k_positions(logits, n, k, pos.data());
  for (int64_t i = 0; i < k; i++) id[i] = ids[pos[i]], lg[i] = logits[pos[i]], pr[i] = probs[pos[i]];
  for (int64_t i = 0; i < k; i++) ids[i] = id[i], logits[i] = lg[i], probs[i] = pr[i];
}

}  // namespace llama4
