"""The fixed CUDA text of the flash kernels, filled by ``string.Template`` (``${name}``): the helpers and
the four kernels' skeletons; each signature comes from solvers/flash/abi.py."""

from string import Template

HELPERS = Template(r"""
// sin and cos of a through sincospi: its argument reduction is exact, so no slow path with a local
// array (sincos's Payne-Hanek path costs a stack frame and register spills); one extra rounding of a/pi.
__device__ __forceinline__ void qsincos(float a, float* s, float* c) { sincospif(a * 0.318309886183790672f, s, c); }
__device__ __forceinline__ void qsincos(double a, double* s, double* c) { sincospi(a * 0.318309886183790672, s, c); }
__device__ __forceinline__ float qrsqrt(float a) { return rsqrtf(a); }  // 2 ulp, one MUFU op: no sqrt + divide
__device__ __forceinline__ double qrsqrt(double a) { return rsqrt(a); }
// the same for an argument known to be a normal number (>= 2^-126): the MUFU op alone, without rsqrtf's
// scaling of subnormal arguments (a compare and two multiplies around it)
__device__ __forceinline__ float qrsqrt_normal(float a) {
  float r;
  asm("rsqrt.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(a));
  return r;
}
__device__ __forceinline__ double qrsqrt_normal(double a) { return rsqrt(a); }

// storage of the batch tensors (x, out, gout, grad_x) in the reduced-precision variants: bf16 and fp16 bit
// patterns, converted by one PTX instruction each way (round to nearest even on the way out, as torch does).
// io_load gives the compute value, io_put stores one; for float and double they are plain accesses.
struct qbf16 { unsigned short bits; };
struct qhalf { unsigned short bits; };
__device__ __forceinline__ float io_load(float v) { return v; }
__device__ __forceinline__ double io_load(double v) { return v; }
__device__ __forceinline__ float io_load(qbf16 v) { return __uint_as_float((unsigned)v.bits << 16); }
__device__ __forceinline__ float io_load(qhalf v) {
  float r;
  asm("cvt.f32.f16 %0, %1;" : "=f"(r) : "h"(v.bits));
  return r;
}
__device__ __forceinline__ void io_put(float* p, float v) { *p = v; }
__device__ __forceinline__ void io_put(double* p, double v) { *p = v; }
__device__ __forceinline__ void io_put(qbf16* p, float v) { asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(p->bits) : "f"(v)); }
__device__ __forceinline__ void io_put(qhalf* p, float v) { asm("cvt.rn.f16.f32 %0, %1;" : "=h"(p->bits) : "f"(v)); }

template <typename real> struct M2 { real ar, ai, br, bi, cr, ci, dr, di; };  // [[a, b], [c, d]]
// four reals read together from 16-byte aligned shared memory (one LDS.128 for float, two for double)
template <typename real> struct __align__(16) Q4 { real a, b, c, d; };

template <typename real> __device__ __forceinline__ M2<real> m2_identity() {
  return M2<real>{real(1), real(0), real(0), real(0), real(0), real(0), real(1), real(0)};
}
template <typename real> __device__ __forceinline__ M2<real> m2_mul(const M2<real>& x, const M2<real>& y) {
  M2<real> r;
  r.ar = x.ar * y.ar - x.ai * y.ai + x.br * y.cr - x.bi * y.ci;
  r.ai = x.ar * y.ai + x.ai * y.ar + x.br * y.ci + x.bi * y.cr;
  r.br = x.ar * y.br - x.ai * y.bi + x.br * y.dr - x.bi * y.di;
  r.bi = x.ar * y.bi + x.ai * y.br + x.br * y.di + x.bi * y.dr;
  r.cr = x.cr * y.ar - x.ci * y.ai + x.dr * y.cr - x.di * y.ci;
  r.ci = x.cr * y.ai + x.ci * y.ar + x.dr * y.ci + x.di * y.cr;
  r.dr = x.cr * y.br - x.ci * y.bi + x.dr * y.dr - x.di * y.di;
  r.di = x.cr * y.bi + x.ci * y.br + x.dr * y.di + x.di * y.dr;
  return r;
}
// rotations exp(-i t/2 P) from c = cos(t/2), s = sin(t/2)
template <typename real> __device__ __forceinline__ M2<real> m2_rx(real c, real s) {
  return M2<real>{c, real(0), real(0), -s, real(0), -s, c, real(0)};
}
template <typename real> __device__ __forceinline__ M2<real> m2_ry(real c, real s) {
  return M2<real>{c, real(0), -s, real(0), s, real(0), c, real(0)};
}
template <typename real> __device__ __forceinline__ M2<real> m2_rz(real c, real s) {
  return M2<real>{c, -s, real(0), real(0), real(0), real(0), c, s};
}
// Bloch-vector rotations by angle t about an axis from c = cos t, s = sin t (the gate exp(-i t P / 2));
// (c, -s) undoes one. Single-qubit states and cotangents are real 3-vectors: 9 multiply-adds per block
// instead of 16 for a complex 2x2 matrix, 4 per data gate instead of 8.
template <typename real> __device__ __forceinline__ void rot_x(real c, real s, real& x, real& y, real& z) {
  const real ny = c * y - s * z, nz = s * y + c * z;
  y = ny; z = nz;
}
template <typename real> __device__ __forceinline__ void rot_y(real c, real s, real& x, real& y, real& z) {
  const real nz = c * z - s * x, nx = s * z + c * x;
  z = nz; x = nx;
}
template <typename real> __device__ __forceinline__ void rot_z(real c, real s, real& x, real& y, real& z) {
  const real nx = c * x - s * y, ny = s * x + c * y;
  x = nx; y = ny;
}
// components of r x q: the derivative of f(r) along a rotation of r about that axis (q = df/dr)
template <typename real> __device__ __forceinline__ real cross_x(real rx, real ry, real rz, real qx, real qy, real qz) {
  return ry * qz - rz * qy;
}
template <typename real> __device__ __forceinline__ real cross_y(real rx, real ry, real rz, real qx, real qy, real qz) {
  return rz * qx - rx * qz;
}
template <typename real> __device__ __forceinline__ real cross_z(real rx, real ry, real rz, real qx, real qy, real qz) {
  return rx * qy - ry * qx;
}
// Pauli coefficients (c_X, c_Y, c_Z) of K = B^dag Q B (traceless Hermitian for unitary B)
template <typename real>
__device__ __forceinline__ void pauli_coeffs_from(const M2<real>& k, real& cx, real& cy, real& cz) {
  cx = k.br; cy = -k.bi; cz = real(0.5) * (k.ar - k.dr);
}
template <typename real> __device__ __forceinline__ M2<real> m2_adj(const M2<real>& m) {
  return M2<real>{m.ar, -m.ai, m.cr, -m.ci, m.br, -m.bi, m.dr, -m.di};
}
template <typename real> __device__ __forceinline__ void pauli_coeffs_x(const M2<real>& b, real& cx, real& cy, real& cz) {
  const M2<real> q{real(0), real(0), real(1), real(0), real(1), real(0), real(0), real(0)};
  pauli_coeffs_from(m2_mul(m2_adj(b), m2_mul(q, b)), cx, cy, cz);
}
template <typename real> __device__ __forceinline__ void pauli_coeffs_y(const M2<real>& b, real& cx, real& cy, real& cz) {
  const M2<real> q{real(0), real(0), real(0), real(-1), real(0), real(1), real(0), real(0)};
  pauli_coeffs_from(m2_mul(m2_adj(b), m2_mul(q, b)), cx, cy, cz);
}
template <typename real> __device__ __forceinline__ void pauli_coeffs_z(const M2<real>& b, real& cx, real& cy, real& cz) {
  const M2<real> q{real(1), real(0), real(0), real(0), real(0), real(0), real(-1), real(0)};
  pauli_coeffs_from(m2_mul(m2_adj(b), m2_mul(q, b)), cx, cy, cz);
}
// the backward's edge of this thread: a block per input and chunk of outputs, or (FLAT) consecutive edges
struct EdgeMap { long long i, o, i_first; int span; bool active; };
template <bool FLAT> __device__ __forceinline__ EdgeMap edge_map(long long O, long long IO) {
  if (!FLAT) {
    const long long o_raw = (long long)blockIdx.z * blockDim.x + threadIdx.x;
    return EdgeMap{(long long)blockIdx.x, o_raw < O ? o_raw : O - 1, (long long)blockIdx.x, 1, o_raw < O};
  }
  const long long e0 = (long long)blockIdx.x * blockDim.x, e_raw = e0 + threadIdx.x;
  const long long e_end = e0 + blockDim.x < IO ? e0 + blockDim.x : IO, e = e_raw < IO ? e_raw : e0;
  const long long i = e / O, i_first = e0 / O;
  return EdgeMap{i, e - i * O, i_first, (int)((e_end - 1) / O - i_first + 1), e_raw < IO};
}
template <typename real> __device__ __forceinline__ real sigma(real x) { return ${sigma}; }
template <typename real> __device__ __forceinline__ real dsigma(real x) { return ${dsigma}; }
""")

EDGE_TABLE = Template(r"""
// one thread per edge (o fastest): block matrices, theta offsets, pre/post-activation factors
${signature} {
  const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long IO = I * O;
  if (t >= IO) return;
  const long long o = t % O, i = t / O, e = t, oi = o * I + i;
  const long long edge = G > 0 ? i % G : oi;
  const real* th = theta + edge * ${numel}LL;
  const long long pe = edge * ${reps}LL;
  (void)th; (void)pe; (void)pre_w; (void)pre_c;
${body}
}
""")

FORWARD = Template(r"""
// block: 32 lanes over outputs x ${isplit} warps over inputs (warp w takes inputs w, w+${isplit}, ...), ${nb}
// samples per thread; grid (batch groups, output chunks). x-only values of a chunk of ${ic} inputs are
// staged in shared memory; the warps' partial sums are added in a fixed order (deterministic).
${signature} {
  // one buffer: staged x-only values while looping over inputs, then the warps' partial sums
  __shared__ __align__(16) real smem[(${nb} * ${ic} * ${K} > ${isplit} * 32 * ${nb}) ? ${nb} * ${ic} * ${K} : ${isplit} * 32 * ${nb}];
  real* xs = smem;
  real* red = smem;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const long long o_raw = (long long)blockIdx.y * 32 + lane;
  const bool active = o_raw < O;
  const long long o = active ? o_raw : O - 1;
  const long long b0 = (long long)blockIdx.x * ${nb};
  const long long IO = I * O;
  ${accs}
  for (long long i0 = 0; i0 < I; i0 += ${ic}) {
    const int n_i = (int)((I - i0 < ${ic}) ? I - i0 : ${ic});
    for (int q = threadIdx.x; q < ${nb} * n_i; q += blockDim.x) {
      const int k = q / n_i, ii = q % n_i;
      const long long b = b0 + k;
      const real xv = b < B ? real(io_load(x[b * I + i0 + ii])) : real(0);
      real* dst = xs + (k * ${ic} + ii) * ${K};
${xvalues}
    }
    __syncthreads();
    if (active) {
      for (int ii = w; ii < n_i; ii += ${isplit}) {
        const long long i = i0 + ii, e = i * O + o;
${load}
${samples}
      }
    }
    __syncthreads();
  }
  if (!EDGE) {
    const real acc[${nb}] = {${acc_list}};
#pragma unroll
    for (int k = 0; k < ${nb}; ++k) red[(w * 32 + lane) * ${nb} + k] = acc[k];
    __syncthreads();
    if (w == 0 && active) {
      for (int k = 0; k < ${nb}; ++k) {
        real total = real(0);
        for (int v = 0; v < ${isplit}; ++v) total += red[(v * 32 + lane) * ${nb} + k];
        if (b0 + k < B) io_put(out + (b0 + k) * O + o, total);
      }
    }
  }
}
""")

BACKWARD = Template(r"""
// one thread per edge loops over its batch tile in chunks of GS samples. Grid (I, batch tiles, output chunks):
// a block's 32*warps threads over outputs of one input (grad_x, if GX, is reduced over them); FLAT (no grad_x,
// O >= 32): grid (edge blocks, batch tiles), a block over consecutive edges e = i O + o (of at most 3 inputs),
// so no lane idles when 32 does not divide O. Each chunk's x-only values (of the block's inputs) and cotangents are first
// loaded into shared memory by the whole block (many independent loads in flight, instead of one
// cotangent load per sample in the loop). Per-edge sums -> part (tiles, P, I, O); grad_x partial per
// chunk of outputs -> gxp (chunks, B, I), reduced over the block's outputs by shuffles and a fixed-order
// warp sum (GX = false: the input needs no gradient, so gxp is null and none of grad_x is computed).
${signature} {
  constexpr int GS = sizeof(real) == 4 ? ${gs_float} : ${gs_double};
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5, nthreads = blockDim.x;
  const long long IO = I * O, bt = blockIdx.y, oc = blockIdx.z;
  const EdgeMap map = edge_map<FLAT>(O, IO);
  const long long i = map.i, o = map.o, i_first = map.i_first, e = i * O + o;
  const bool active = map.active;
  const int span = map.span;  // inputs the block's edges belong to: i_first, ..., i_first + span - 1
  const int il = (int)(i - i_first);
  real* xs = reinterpret_cast<real*>(smem_raw);  // (GS, span, ${K}) x-only values of the chunk's samples
  real* gs = xs + GS * span * ${K};                 // (GS, threads) cotangents of the chunk
  real* sm = gs + GS * nthreads;                   // (warps, GS) per-warp grad_x sums
  const real* xl = xs + il * ${K};                 // this thread's input's values of the chunk's first sample
  const int xstride = span * ${K};
  static_assert(!(EDGE && SUMS), "the layer sums belong to y mode");
  const long long P = SUMS ? ${P} : ${P_circuit};
  (void)P;
${load}
${accs}
  const long long b_begin = bt * TB;
  const long long b_end = (b_begin + TB < B) ? b_begin + TB : B;
  for (long long c0 = b_begin; c0 < b_end; c0 += GS) {
    const int n = (int)((b_end - c0 < GS) ? b_end - c0 : GS);
    for (int q = threadIdx.x; q < n * span; q += nthreads) {
      const int j = q / span;
      const real xv = real(io_load(x[(c0 + j) * I + i_first + (q - j * span)]));
      real* dst = xs + q * ${K};
${xvalues}
    }
    for (int j = 0; j < n; ++j)
      gs[j * nthreads + threadIdx.x] = real(io_load(EDGE ? gout[((c0 + j) * O + o) * I + i] : gout[(c0 + j) * O + o]));
    __syncthreads();
    const real* xq = xl;  // sample j's x-only values and cotangent: pointers stepped, not indices recomputed
    const real* gq = gs + threadIdx.x;
#pragma unroll (sizeof(real) == 4 ? 2 : 1)
    for (int j = 0; j < n; ++j, xq += xstride, gq += nthreads) {  // float: two samples in flight (double spills)
      real gxl = real(0);
      if (active) {
        const real gin = *gq;
${sample}
      }
      if (GX) {
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) gxl += __shfl_xor_sync(0xffffffffu, gxl, off);
        if (lane == 0) sm[warp * GS + j] = gxl;
      }
    }
    __syncthreads();
    for (int j = threadIdx.x; GX && j < n; j += nthreads) {
      real s = real(0);
      for (int w = 0; w < nwarps; ++w) s += sm[w * GS + j];
      io_put(gxp + (oc * B + c0 + j) * I + i, s);
    }
  }
  if (active) {
${stores}
  }
}
""")

PARAM_GRADS = Template(r"""
// a block per 32 edges (lanes, o fastest) x ${W} warps: the warps sum the batch tiles of the accumulators
// p = warp, warp + ${W}, ... in tile order into shared memory; then (after ${middle_note}) warp 0 maps the
// sums to gradients. A null output pointer (a gradient nobody needs) is skipped.
${signature} {
  __shared__ real sums[${P}][32];
${shared}
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const long long IO = I * O;
  const long long t_raw = (long long)blockIdx.x * 32 + lane;
  const bool valid = t_raw < IO;
  const long long t = valid ? t_raw : IO - 1;  // lanes past the end compute on the last edge, write nothing
  const long long o = t % O, i = t / O, oi = o * I + i;
  const long long P = SUMS ? ${P} : ${P_circuit};
  const long long edge = G > 0 ? i % G : oi;
  const real* th = theta + edge * ${numel}LL;
  (void)th; (void)g_prew; (void)g_prec; (void)pw; (void)pb; (void)mask; (void)g_pw; (void)g_pb; (void)g_bw;
  for (int p = warp; p < P; p += ${W}) {
    real s = real(0);
#pragma unroll 8
    for (long long bt = 0; bt < tiles; ++bt) s += part[((bt * P + p) * I + i) * O + o];  // loads overlap
    sums[p][lane] = s;
  }
  __syncthreads();
${middle}
  if (warp != 0 || !valid) return;
  real a[${P}];
#pragma unroll
  for (int p = 0; p < ${P}; ++p) a[p] = p < P ? sums[p][lane] : real(0);
  real* g = g_theta + oi * ${numel}LL;
#pragma unroll
  for (int k = 0; k < ${numel}; ++k) g[k] = real(0);
${body}
}
""")
