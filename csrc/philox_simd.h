// Philox4x32-10 of consecutive blocks, 16 (AVX-512) or 8 (AVX2) at a time, else scalar (CPU only).
// Same words as philox4x32_10 in philox.h: the 32x32 -> 64-bit products of a round come from
// vpmuludq on the even and the odd lanes, recombined by blends.
#pragma once
#include <cstdint>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#include "philox.h"

namespace latent_ebm {

// w{0..3}[i] <- words of block first + i, i < n.
inline void philox_blocks(uint64_t first, int64_t n, uint32_t c2, uint32_t c3, uint32_t k0,
                          uint32_t k1, uint32_t* w0, uint32_t* w1, uint32_t* w2, uint32_t* w3) {
  int64_t i = 0;
#if defined(__AVX512F__)
  constexpr int L = 16;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(kPhiloxM0));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(kPhiloxM1));
  for (; i + L <= n; i += L) {
    const uint64_t b = first + static_cast<uint64_t>(i);
    if (static_cast<uint32_t>(b) > 0xFFFFFFFFu - L) break;  // low word would wrap: scalar path
    __m512i x0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(b)), lane);
    __m512i x1 = _mm512_set1_epi32(static_cast<int>(b >> 32));
    __m512i x2 = _mm512_set1_epi32(static_cast<int>(c2));
    __m512i x3 = _mm512_set1_epi32(static_cast<int>(c3));
    uint32_t ka = k0, kb = k1;
    for (int r = 0; r < 10; ++r) {
      const __m512i e0 = _mm512_mul_epu32(x0, m0), o0 = _mm512_mul_epu32(_mm512_srli_epi64(x0, 32), m0);
      const __m512i e1 = _mm512_mul_epu32(x2, m1), o1 = _mm512_mul_epu32(_mm512_srli_epi64(x2, 32), m1);
      const __m512i hi0 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e0, 32), o0);
      const __m512i lo0 = _mm512_mask_blend_epi32(0xAAAA, e0, _mm512_slli_epi64(o0, 32));
      const __m512i hi1 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e1, 32), o1);
      const __m512i lo1 = _mm512_mask_blend_epi32(0xAAAA, e1, _mm512_slli_epi64(o1, 32));
      x0 = _mm512_xor_si512(_mm512_xor_si512(hi1, x1), _mm512_set1_epi32(static_cast<int>(ka)));
      x1 = lo1;
      x2 = _mm512_xor_si512(_mm512_xor_si512(hi0, x3), _mm512_set1_epi32(static_cast<int>(kb)));
      x3 = lo0;
      ka += kPhiloxW0;
      kb += kPhiloxW1;
    }
    _mm512_storeu_si512(w0 + i, x0);
    _mm512_storeu_si512(w1 + i, x1);
    _mm512_storeu_si512(w2 + i, x2);
    _mm512_storeu_si512(w3 + i, x3);
  }
#elif defined(__AVX2__)
  constexpr int L = 8;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kPhiloxM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kPhiloxM1));
  for (; i + L <= n; i += L) {
    const uint64_t b = first + static_cast<uint64_t>(i);
    if (static_cast<uint32_t>(b) > 0xFFFFFFFFu - L) break;
    __m256i x0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(b)), lane);
    __m256i x1 = _mm256_set1_epi32(static_cast<int>(b >> 32));
    __m256i x2 = _mm256_set1_epi32(static_cast<int>(c2));
    __m256i x3 = _mm256_set1_epi32(static_cast<int>(c3));
    uint32_t ka = k0, kb = k1;
    for (int r = 0; r < 10; ++r) {
      const __m256i e0 = _mm256_mul_epu32(x0, m0), o0 = _mm256_mul_epu32(_mm256_srli_epi64(x0, 32), m0);
      const __m256i e1 = _mm256_mul_epu32(x2, m1), o1 = _mm256_mul_epu32(_mm256_srli_epi64(x2, 32), m1);
      const __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(e0, 32), o0, 0xAA);
      const __m256i lo0 = _mm256_blend_epi32(e0, _mm256_slli_epi64(o0, 32), 0xAA);
      const __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(e1, 32), o1, 0xAA);
      const __m256i lo1 = _mm256_blend_epi32(e1, _mm256_slli_epi64(o1, 32), 0xAA);
      x0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), _mm256_set1_epi32(static_cast<int>(ka)));
      x1 = lo1;
      x2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), _mm256_set1_epi32(static_cast<int>(kb)));
      x3 = lo0;
      ka += kPhiloxW0;
      kb += kPhiloxW1;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w0 + i), x0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w1 + i), x1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w2 + i), x2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w3 + i), x3);
  }
#endif
  for (; i < n; ++i) {
    const uint64_t b = first + static_cast<uint64_t>(i);
    const Words4 v = philox4x32_10(static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), c2, c3, k0, k1);
    w0[i] = v.w0; w1[i] = v.w1; w2[i] = v.w2; w3[i] = v.w3;
  }
}

}  // namespace latent_ebm
