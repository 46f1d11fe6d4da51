// Fused Langevin updates on CUDA, noise from philox.h (the same stream as the CPU kernels).
//
// One thread per Philox block of 4 elements, grid-stride; float32 tensors with 16-byte aligned
// pointers use float4 loads/stores. float32 / bfloat16 / float16 use float32 math, float64
// uses float64 math. mala_propose: a 2-d grid (Philox blocks of a row x rows), the per-row
// sum of eps^2 reduced in shared memory and added with one atomicAdd per CUDA block.
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/extension.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "philox.h"

namespace {

using latent_ebm::Normals4;

constexpr int kThreads = 256;

struct Ula {
  float a, b;
  template <typename acc_t>
  __device__ __forceinline__ acc_t operator()(acc_t x, acc_t g, float eps) const {
    const acc_t v = x - static_cast<acc_t>(a) * g;
    return v + static_cast<acc_t>(b) * static_cast<acc_t>(eps);
  }
};

struct UlaDouble {
  double a, b;
  __device__ __forceinline__ double operator()(double x, double g, float eps) const {
    const double v = x - a * g;
    return v + b * static_cast<double>(eps);
  }
};

template <typename acc_t>
struct Anisotropic {
  acc_t ss, ns, thr;
  __device__ __forceinline__ acc_t operator()(acc_t x, acc_t g, float eps) const {
    const acc_t ag = g < acc_t(0) ? -g : g;
    const acc_t s2 = ss / (ag > thr ? ag : thr);  // s_i^2 = s^2 thr / max(thr, |g_i|)
    const acc_t v = x - (acc_t(0.5) * s2) * g;
    return v + (sqrt(s2) * ns) * static_cast<acc_t>(eps);
  }
};

int num_blocks(int64_t work) {
  const int sms = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int64_t need = (work + kThreads - 1) / kThreads;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(need, int64_t(sms) * 16)));
}

template <typename scalar_t, typename Op>
__global__ void update_kernel(scalar_t* __restrict__ x, const scalar_t* __restrict__ g, int64_t n,
                              Op op, uint64_t seed, uint64_t offset, bool vec4) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t n_blocks = (n + 3) / 4;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t blk = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; blk < n_blocks; blk += stride) {
    const Normals4 z = latent_ebm::normal_block(static_cast<uint64_t>(blk), seed, offset);
    const int64_t base = blk * 4;
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (vec4 && base + 4 <= n) {
        float4 xv = reinterpret_cast<float4*>(x)[blk];
        const float4 gv = reinterpret_cast<const float4*>(g)[blk];
        xv.x = op(xv.x, gv.x, z.z0);
        xv.y = op(xv.y, gv.y, z.z1);
        xv.z = op(xv.z, gv.z, z.z2);
        xv.w = op(xv.w, gv.w, z.z3);
        reinterpret_cast<float4*>(x)[blk] = xv;
        continue;
      }
    }
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      if (base + l < n) {
        const acc_t v = op(static_cast<acc_t>(x[base + l]), static_cast<acc_t>(g[base + l]),
                           latent_ebm::lane(z, l));
        x[base + l] = static_cast<scalar_t>(v);
      }
    }
  }
}

template <typename scalar_t, typename acc_out_t>
__global__ void mala_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ g,
                            scalar_t* __restrict__ out, acc_out_t* __restrict__ log_q, int64_t B,
                            int64_t D, at::opmath_type<scalar_t> a, at::opmath_type<scalar_t> b,
                            uint64_t seed, uint64_t offset) {
  using acc_t = at::opmath_type<scalar_t>;
  __shared__ double warp_sums[kThreads / 32];
  for (int64_t row = blockIdx.y; row < B; row += gridDim.y) {
    const int64_t lo = row * D, hi = lo + D;  // element range of the row
    const int64_t first = lo / 4, last = (hi - 1) / 4;
    double sq = 0.0;
    for (int64_t blk = first + int64_t(blockIdx.x) * blockDim.x + threadIdx.x; blk <= last;
         blk += int64_t(gridDim.x) * blockDim.x) {
      const Normals4 z = latent_ebm::normal_block(static_cast<uint64_t>(blk), seed, offset);
#pragma unroll
      for (int l = 0; l < 4; ++l) {
        const int64_t i = blk * 4 + l;
        if (i >= lo && i < hi) {
          const float e = latent_ebm::lane(z, l);
          acc_t v = static_cast<acc_t>(x[i]) - a * static_cast<acc_t>(g[i]);
          v = v + b * static_cast<acc_t>(e);
          out[i] = static_cast<scalar_t>(v);
          sq += static_cast<double>(e * e);
        }
      }
    }
    for (int s = 16; s > 0; s >>= 1) sq += __shfl_down_sync(0xffffffffu, sq, s);
    if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = sq;
    __syncthreads();
    if (threadIdx.x == 0) {
      double total = 0.0;
      for (int w = 0; w < kThreads / 32; ++w) total += warp_sums[w];
      atomicAdd(log_q + row, static_cast<acc_out_t>(-0.5 * total));
    }
    __syncthreads();
  }
}

__global__ void normal_kernel(float* __restrict__ out, int64_t n, uint64_t seed, uint64_t offset) {
  const int64_t n_blocks = (n + 3) / 4;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t blk = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; blk < n_blocks; blk += stride) {
    const Normals4 z = latent_ebm::normal_block(static_cast<uint64_t>(blk), seed, offset);
    const int64_t base = blk * 4;
#pragma unroll
    for (int l = 0; l < 4; ++l)
      if (base + l < n) out[base + l] = latent_ebm::lane(z, l);
  }
}

void check_pair(const at::Tensor& x, const at::Tensor& g) {
  TORCH_CHECK(x.is_cuda() && g.is_cuda(), "cuda kernels need CUDA tensors");
  TORCH_CHECK(x.device() == g.device(), "x and grad must be on one device");
  TORCH_CHECK(x.is_contiguous() && g.is_contiguous(), "x and grad must be contiguous");
  TORCH_CHECK(x.scalar_type() == g.scalar_type(), "x and grad must share a dtype");
  TORCH_CHECK(x.numel() == g.numel(), "x and grad must have the same number of elements");
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename scalar_t, typename Op>
void launch_update(at::Tensor& x, const at::Tensor& g, Op op, uint64_t s, uint64_t o) {
  const int64_t n = x.numel();
  if (n == 0) return;
  scalar_t* xp = x.data_ptr<scalar_t>();
  const scalar_t* gp = g.data_ptr<scalar_t>();
  const bool vec4 = aligned16(xp) && aligned16(gp);
  update_kernel<scalar_t, Op><<<num_blocks((n + 3) / 4), kThreads, 0,
                                at::cuda::getCurrentCUDAStream()>>>(xp, gp, n, op, s, o, vec4);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define LEBM_DISPATCH(TYPE, NAME, ...) \
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, TYPE, NAME, __VA_ARGS__)

at::Tensor langevin_update_(at::Tensor x, const at::Tensor& grad, double a, double b,
                            int64_t seed, int64_t offset) {
  check_pair(x, grad);
  const c10::cuda::CUDAGuard guard(x.device());
  const uint64_t s = static_cast<uint64_t>(seed), o = static_cast<uint64_t>(offset);
  LEBM_DISPATCH(x.scalar_type(), "langevin_update_", [&] {
    if constexpr (std::is_same_v<scalar_t, double>) {
      launch_update<scalar_t>(x, grad, UlaDouble{a, b}, s, o);
    } else {
      launch_update<scalar_t>(x, grad, Ula{static_cast<float>(a), static_cast<float>(b)}, s, o);
    }
  });
  return x;
}

at::Tensor anisotropic_update_(at::Tensor x, const at::Tensor& grad, double ss_thr,
                               double noise_scale, double threshold, int64_t seed,
                               int64_t offset) {
  check_pair(x, grad);
  const c10::cuda::CUDAGuard guard(x.device());
  const uint64_t s = static_cast<uint64_t>(seed), o = static_cast<uint64_t>(offset);
  LEBM_DISPATCH(x.scalar_type(), "anisotropic_update_", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const Anisotropic<acc_t> op{static_cast<acc_t>(ss_thr), static_cast<acc_t>(noise_scale),
                                static_cast<acc_t>(threshold)};
    launch_update<scalar_t>(x, grad, op, s, o);
  });
  return x;
}

std::tuple<at::Tensor, at::Tensor> mala_propose(const at::Tensor& x, const at::Tensor& grad,
                                                double a, double b, int64_t seed,
                                                int64_t offset) {
  check_pair(x, grad);
  TORCH_CHECK(x.dim() >= 1 && x.size(0) >= 1, "x needs a batch dim");
  const c10::cuda::CUDAGuard guard(x.device());
  const uint64_t s = static_cast<uint64_t>(seed), o = static_cast<uint64_t>(offset);
  const int64_t B = x.size(0), D = x.numel() / B;
  const auto acc_type = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor out = at::empty_like(x);
  at::Tensor log_q = at::zeros({B}, x.options().dtype(acc_type));
  if (D == 0) return {out, log_q};
  const int64_t blocks_per_row = D / 4 + 2;
  const int gx = std::max(1, std::min(num_blocks(blocks_per_row),
                                      static_cast<int>((blocks_per_row + kThreads - 1) / kThreads)));
  const dim3 grid(gx, static_cast<unsigned>(std::min<int64_t>(B, 65535)));
  LEBM_DISPATCH(x.scalar_type(), "mala_propose", [&] {
    using acc_t = at::opmath_type<scalar_t>;  // float, or double for double: log_q's dtype
    mala_kernel<scalar_t, acc_t><<<grid, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
        log_q.data_ptr<acc_t>(), B, D, static_cast<acc_t>(a), static_cast<acc_t>(b), s, o);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {out, log_q};
}

at::Tensor philox_normal_(at::Tensor out, int64_t seed, int64_t offset) {
  TORCH_CHECK(out.is_cuda() && out.is_contiguous() && out.scalar_type() == at::kFloat,
              "out must be a contiguous float32 CUDA tensor");
  const c10::cuda::CUDAGuard guard(out.device());
  const int64_t n = out.numel();
  if (n == 0) return out;
  normal_kernel<<<num_blocks((n + 3) / 4), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
      out.data_ptr<float>(), n, static_cast<uint64_t>(seed), static_cast<uint64_t>(offset));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

std::vector<int64_t> philox4x32_10(const std::vector<int64_t>& ctr, const std::vector<int64_t>& key) {
  TORCH_CHECK(ctr.size() == 4 && key.size() == 2, "need 4 counter words and 2 key words");
  const auto w = latent_ebm::philox4x32_10(
      static_cast<uint32_t>(ctr[0]), static_cast<uint32_t>(ctr[1]), static_cast<uint32_t>(ctr[2]),
      static_cast<uint32_t>(ctr[3]), static_cast<uint32_t>(key[0]), static_cast<uint32_t>(key[1]));
  return {w.w0, w.w1, w.w2, w.w3};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "latent-ebm fused Langevin kernels (CUDA)";
  m.def("langevin_update_", &langevin_update_, "x <- x - a grad + b eps (in place)");
  m.def("anisotropic_update_", &anisotropic_update_, "STANLEY per-coordinate step (in place)");
  m.def("mala_propose", &mala_propose, "(x - a grad + b eps, -0.5 sum eps^2 per row)");
  m.def("philox_normal_", &philox_normal_, "fill a float32 tensor with the noise stream");
  m.def("philox4x32_10", &philox4x32_10, "raw Philox4x32-10 block (host)");
}
