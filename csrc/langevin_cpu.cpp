// Fused Langevin updates on CPU (OpenMP through at::parallel_for), noise from philox.h.
//
// Work is cut into chunks of kChunk elements; each chunk first fills a small L1 buffer with its
// normals (a loop over Philox blocks the compiler vectorises), then updates x in one pass.
// float32 / bfloat16 / float16 use float32 math, float64 uses float64 math. Results depend only
// on (seed, offset), never on the thread count.
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "philox.h"
#include "philox_simd.h"

namespace {

using latent_ebm::Normals4;

constexpr int64_t kChunk = 1024;  // elements per work item, a multiple of 4
constexpr int64_t kGrain = 16;    // chunks per thread at least (small tensors stay serial)

// buf[0, n) <- eps of elements [start, start + n) of stream (seed, offset); n <= kChunk.
void fill_normals(float* buf, int64_t start, int64_t n, uint64_t seed, uint64_t offset) {
  constexpr int64_t kMaxBlocks = kChunk / 4 + 2;
  alignas(64) uint32_t w[4][kMaxBlocks];
  alignas(64) float tmp[4 * kMaxBlocks];
  const int64_t first = start >> 2;
  const int64_t n_blocks = ((start + n + 3) >> 2) - first;
  latent_ebm::philox_blocks(static_cast<uint64_t>(first), n_blocks, static_cast<uint32_t>(offset),
                            static_cast<uint32_t>(offset >> 32), static_cast<uint32_t>(seed),
                            static_cast<uint32_t>(seed >> 32), w[0], w[1], w[2], w[3]);
  for (int64_t i = 0; i < n_blocks; ++i) {
    const Normals4 z = latent_ebm::box_muller({w[0][i], w[1][i], w[2][i], w[3][i]});
    tmp[4 * i] = z.z0;
    tmp[4 * i + 1] = z.z1;
    tmp[4 * i + 2] = z.z2;
    tmp[4 * i + 3] = z.z3;
  }
  std::memcpy(buf, tmp + (start & 3), static_cast<size_t>(n) * sizeof(float));
}

// f(start, n, eps) over consecutive chunks of [0, numel), in parallel.
template <typename F>
void for_chunks(int64_t numel, const F& f) {
  const int64_t n_chunks = (numel + kChunk - 1) / kChunk;
  at::parallel_for(0, n_chunks, kGrain, [&](int64_t c0, int64_t c1) {
    alignas(64) float eps[kChunk];
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t start = c * kChunk;
      f(start, std::min(kChunk, numel - start), eps);
    }
  });
}

void check_pair(const at::Tensor& x, const at::Tensor& g) {
  TORCH_CHECK(x.device().is_cpu() && g.device().is_cpu(), "cpu kernels need CPU tensors");
  TORCH_CHECK(x.is_contiguous() && g.is_contiguous(), "x and grad must be contiguous");
  TORCH_CHECK(x.scalar_type() == g.scalar_type(), "x and grad must share a dtype");
  TORCH_CHECK(x.numel() == g.numel(), "x and grad must have the same number of elements");
}

#define LEBM_DISPATCH(TYPE, NAME, ...) \
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, TYPE, NAME, __VA_ARGS__)

at::Tensor langevin_update_(at::Tensor x, const at::Tensor& grad, double a, double b,
                            int64_t seed, int64_t offset) {
  check_pair(x, grad);
  const uint64_t s = static_cast<uint64_t>(seed), o = static_cast<uint64_t>(offset);
  LEBM_DISPATCH(x.scalar_type(), "langevin_update_", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    scalar_t* xp = x.data_ptr<scalar_t>();
    const scalar_t* gp = grad.data_ptr<scalar_t>();
    const acc_t ca = static_cast<acc_t>(a), cb = static_cast<acc_t>(b);
    for_chunks(x.numel(), [&](int64_t start, int64_t n, float* eps) {
      fill_normals(eps, start, n, s, o);
      scalar_t* xs = xp + start;
      const scalar_t* gs = gp + start;
      for (int64_t i = 0; i < n; ++i) {
        acc_t v = static_cast<acc_t>(xs[i]) - ca * static_cast<acc_t>(gs[i]);
        v = v + cb * static_cast<acc_t>(eps[i]);
        xs[i] = static_cast<scalar_t>(v);
      }
    });
  });
  return x;
}

at::Tensor anisotropic_update_(at::Tensor x, const at::Tensor& grad, double ss_thr,
                               double noise_scale, double threshold, int64_t seed,
                               int64_t offset) {
  check_pair(x, grad);
  const uint64_t s = static_cast<uint64_t>(seed), o = static_cast<uint64_t>(offset);
  LEBM_DISPATCH(x.scalar_type(), "anisotropic_update_", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    scalar_t* xp = x.data_ptr<scalar_t>();
    const scalar_t* gp = grad.data_ptr<scalar_t>();
    const acc_t ss = static_cast<acc_t>(ss_thr), ns = static_cast<acc_t>(noise_scale);
    const acc_t thr = static_cast<acc_t>(threshold);
    for_chunks(x.numel(), [&](int64_t start, int64_t n, float* eps) {
      fill_normals(eps, start, n, s, o);
      scalar_t* xs = xp + start;
      const scalar_t* gs = gp + start;
      for (int64_t i = 0; i < n; ++i) {
        const acc_t g = static_cast<acc_t>(gs[i]);
        const acc_t ag = std::abs(g);
        const acc_t s2 = ss / (ag > thr ? ag : thr);  // s_i^2 = s^2 thr / max(thr, |g_i|)
        acc_t v = static_cast<acc_t>(xs[i]) - (static_cast<acc_t>(0.5) * s2) * g;
        v = v + (std::sqrt(s2) * ns) * static_cast<acc_t>(eps[i]);
        xs[i] = static_cast<scalar_t>(v);
      }
    });
  });
  return x;
}

// out <- x - a grad + b eps and partial[u] = sum eps^2 over work item u = (row, chunk of row).
template <typename scalar_t>
void mala_rows(const scalar_t* xp, const scalar_t* gp, scalar_t* op, double* partial, int64_t B,
               int64_t D, int64_t per_row, double a, double b, uint64_t s, uint64_t o) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t ca = static_cast<acc_t>(a), cb = static_cast<acc_t>(b);
  at::parallel_for(0, B * per_row, kGrain, [&](int64_t u0, int64_t u1) {
    alignas(64) float eps[kChunk];
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t row = u / per_row, within = (u % per_row) * kChunk;
      const int64_t start = row * D + within, n = std::min(kChunk, D - within);
      if (n <= 0) continue;
      fill_normals(eps, start, n, s, o);
      double sq = 0.0;
#pragma omp simd reduction(+ : sq)
      for (int64_t i = 0; i < n; ++i) {
        acc_t v = static_cast<acc_t>(xp[start + i]) - ca * static_cast<acc_t>(gp[start + i]);
        v = v + cb * static_cast<acc_t>(eps[i]);
        op[start + i] = static_cast<scalar_t>(v);
        sq += static_cast<double>(eps[i] * eps[i]);
      }
      partial[u] = sq;
    }
  });
}

std::tuple<at::Tensor, at::Tensor> mala_propose(const at::Tensor& x, const at::Tensor& grad,
                                                double a, double b, int64_t seed,
                                                int64_t offset) {
  check_pair(x, grad);
  TORCH_CHECK(x.dim() >= 1 && x.size(0) >= 1, "x needs a batch dim");
  const uint64_t s = static_cast<uint64_t>(seed), o = static_cast<uint64_t>(offset);
  const int64_t B = x.size(0), D = x.numel() / B;
  const auto acc_type = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor out = at::empty_like(x);
  at::Tensor log_q = at::empty({B}, x.options().dtype(acc_type));
  const int64_t per_row = std::max<int64_t>(1, (D + kChunk - 1) / kChunk);
  std::vector<double> partial(static_cast<size_t>(B * per_row), 0.0);
  LEBM_DISPATCH(x.scalar_type(), "mala_propose", [&] {
    mala_rows<scalar_t>(x.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                        partial.data(), B, D, per_row, a, b, s, o);
  });
  AT_DISPATCH_FLOATING_TYPES(acc_type, "mala_log_q", [&] {
    scalar_t* lq = log_q.data_ptr<scalar_t>();
    for (int64_t row = 0; row < B; ++row) {
      double sq = 0.0;
      for (int64_t c = 0; c < per_row; ++c) sq += partial[static_cast<size_t>(row * per_row + c)];
      lq[row] = static_cast<scalar_t>(-0.5 * sq);
    }
  });
  return {out, log_q};
}

at::Tensor philox_normal_(at::Tensor out, int64_t seed, int64_t offset) {
  TORCH_CHECK(out.device().is_cpu() && out.is_contiguous() && out.scalar_type() == at::kFloat,
              "out must be a contiguous float32 CPU tensor");
  const uint64_t s = static_cast<uint64_t>(seed), o = static_cast<uint64_t>(offset);
  float* p = out.data_ptr<float>();
  for_chunks(out.numel(), [&](int64_t start, int64_t n, float*) {
    fill_normals(p + start, start, n, s, o);
  });
  return out;
}

// Raw Philox4x32-10 of one counter (for known-answer tests); words as int64 in [0, 2^32).
std::vector<int64_t> philox4x32_10(const std::vector<int64_t>& ctr, const std::vector<int64_t>& key) {
  TORCH_CHECK(ctr.size() == 4 && key.size() == 2, "need 4 counter words and 2 key words");
  const auto w = latent_ebm::philox4x32_10(
      static_cast<uint32_t>(ctr[0]), static_cast<uint32_t>(ctr[1]), static_cast<uint32_t>(ctr[2]),
      static_cast<uint32_t>(ctr[3]), static_cast<uint32_t>(key[0]), static_cast<uint32_t>(key[1]));
  return {w.w0, w.w1, w.w2, w.w3};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "latent-ebm fused Langevin kernels (CPU)";
  m.def("langevin_update_", &langevin_update_, "x <- x - a grad + b eps (in place)");
  m.def("anisotropic_update_", &anisotropic_update_, "STANLEY per-coordinate step (in place)");
  m.def("mala_propose", &mala_propose, "(x - a grad + b eps, -0.5 sum eps^2 per row)");
  m.def("philox_normal_", &philox_normal_, "fill a float32 tensor with the noise stream");
  m.def("philox4x32_10", &philox4x32_10, "raw Philox4x32-10 block");
}
