// Counter-based N(0, 1) noise shared by the CPU and CUDA Langevin kernels (host/device inline).
//
// Stream layout -- the torch reference (latent_ebm/core/ops/_reference.py) draws the same numbers:
//   generator : Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As Easy as
//               1, 2, 3", SC 2011), multipliers 0xD2511F53, 0xCD9E8D57, Weyl key increments
//               0x9E3779B9, 0xBB67AE85, 10 rounds, key bumped between rounds.
//   key       : (seed & 0xffffffff, seed >> 32)                       -- 64-bit seed
//   counter   : (block & 0xffffffff, block >> 32, offset & 0xffffffff, offset >> 32)
//               block = i / 4 for element i of the row-major flattened tensor, offset = 64 bits
//   output    : words (w0, w1, w2, w3) of the block
//   uniforms  : u(w) = ((w >> 9) + 0.5) * 2^-23, exact in float32, in [2^-24, 1 - 2^-24]
//   Box-Muller: r0 = sqrt(-2 log u(w0)), a0 = 2 pi u(w1);  r1, a1 likewise from (w2, w3);
//               lanes (r0 cos a0, r0 sin a0, r1 cos a1, r1 sin a1) -> element i gets lane i % 4.
//               |eps| <= sqrt(2 * 24 * ln 2) = 5.77.
//   angle     : reduced to [0, pi/4] exactly on the integer k = w >> 9 (quadrant = top 2 bits,
//               octant mirror on the next bit), so no float range reduction is needed.
// log, sin and cos are branch-free float32 polynomials (coefficients of Cephes' logf/sinf/cosf,
// S. L. Moshier, Cephes Math Library), about 1 ulp, and they vectorise on CPU.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define LEBM_HD __host__ __device__ __forceinline__
#else
#define LEBM_HD inline
#endif

namespace latent_ebm {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
// 2 pi / 2^23 rounded to float (the reference multiplies by the same float).
constexpr float kAngleUnit = static_cast<float>(6.283185307179586476925 / 8388608.0);

struct Words4 {
  uint32_t w0, w1, w2, w3;
};

struct Normals4 {
  float z0, z1, z2, z3;
};

LEBM_HD uint32_t mulhi32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

// Philox4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1).
LEBM_HD Words4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                             uint32_t k1) {
#if defined(__CUDACC__)
#pragma unroll
#endif
  for (int r = 0; r < 10; ++r) {
    const uint32_t hi0 = mulhi32(kPhiloxM0, c0), lo0 = kPhiloxM0 * c0;
    const uint32_t hi1 = mulhi32(kPhiloxM1, c2), lo1 = kPhiloxM1 * c2;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kPhiloxW0;  // the bump after the last round is never used
    k1 += kPhiloxW1;
  }
  return {c0, c1, c2, c3};
}

// Words of block `block` of stream (seed, offset).
LEBM_HD Words4 philox_block(uint64_t block, uint64_t seed, uint64_t offset) {
  return philox4x32_10(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                       static_cast<uint32_t>(offset), static_cast<uint32_t>(offset >> 32),
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

LEBM_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
#endif
}

LEBM_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
#endif
}

// log(u(w)) for u(w) = ((w >> 9) + 0.5) * 2^-23 (a normal float in (0, 1)).
LEBM_HD float log_uniform(uint32_t w) {
  const float u = (static_cast<float>(static_cast<int32_t>(w >> 9)) + 0.5f) * 1.1920928955078125e-7f;  // 2^-23
  // u = m * 2^e with m in [sqrt(1/2), sqrt(2)): shift the bits by those of sqrt(1/2) so that the
  // exponent field gives e directly (branch-free, vectorises without masks).
  const uint32_t ix = float_bits(u) - 0x3F3504F3u;
  const int e = static_cast<int32_t>(ix) >> 23;
  const float x = bits_float((ix & 0x007FFFFFu) + 0x3F3504F3u) - 1.0f;
  const float z = x * x;
  float y = 7.0376836292e-2f;
  y = y * x - 1.1514610310e-1f;
  y = y * x + 1.1676998740e-1f;
  y = y * x - 1.2420140846e-1f;
  y = y * x + 1.4249322787e-1f;
  y = y * x - 1.6668057665e-1f;
  y = y * x + 2.0000714765e-1f;
  y = y * x - 2.4999993993e-1f;
  y = y * x + 3.3333331174e-1f;
  y = y * x * z;
  const float fe = static_cast<float>(e);
  y += -2.12194440e-4f * fe;  // ln 2 split in two parts: 0.693359375 - 2.12194440e-4
  y += -0.5f * z;
  return (x + y) + 0.693359375f * fe;
}

// sin and cos of 2 pi u(w), with exact reduction on k = w >> 9.
LEBM_HD void sincos_uniform(uint32_t w, float* s_out, float* c_out) {
  const uint32_t k = w >> 9;
  const uint32_t q = k >> 21;                      // quadrant
  const uint32_t j = k & 0x1FFFFFu;
  const bool upper = j >= 0x100000u;               // phi > pi/4: use pi/2 - phi
  const uint32_t jj = upper ? 0x1FFFFFu - j : j;
  const float x = (static_cast<float>(static_cast<int32_t>(jj)) + 0.5f) * kAngleUnit;  // in (0, pi/4)
  const float z = x * x;
  float sn = -1.9515295891e-4f;
  sn = sn * z + 8.3321608736e-3f;
  sn = sn * z - 1.6666654611e-1f;
  sn = sn * z * x + x;
  float cs = 2.443315711809948e-5f;
  cs = cs * z - 1.388731625493765e-3f;
  cs = cs * z + 4.166664568298827e-2f;
  cs = cs * z * z - 0.5f * z + 1.0f;
  // Rotate by q quarter turns: (sin, cos) -> q=0 (s, c), 1 (c, -s), 2 (-s, -c), 3 (-c, s);
  // written as selects and sign-bit flips so that the loop stays branch-free.
  const bool swap = (upper ? 1u : 0u) ^ (q & 1u);
  const float s = swap ? cs : sn;
  const float c = swap ? sn : cs;
  *s_out = bits_float(float_bits(s) ^ ((q >> 1) << 31));
  *c_out = bits_float(float_bits(c) ^ (((q ^ (q >> 1)) & 1u) << 31));
}

LEBM_HD Normals4 box_muller(Words4 w) {
  const float r0 = sqrtf(-2.0f * log_uniform(w.w0));
  const float r1 = sqrtf(-2.0f * log_uniform(w.w2));
  float s0, c0, s1, c1;
  sincos_uniform(w.w1, &s0, &c0);
  sincos_uniform(w.w3, &s1, &c1);
  return {r0 * c0, r0 * s0, r1 * c1, r1 * s1};
}

// The four normals of block `block` of stream (seed, offset).
LEBM_HD Normals4 normal_block(uint64_t block, uint64_t seed, uint64_t offset) {
  return box_muller(philox_block(block, seed, offset));
}

LEBM_HD float lane(const Normals4& z, int l) {
  return l == 0 ? z.z0 : (l == 1 ? z.z1 : (l == 2 ? z.z2 : z.z3));
}

}  // namespace latent_ebm
