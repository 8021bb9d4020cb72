/* edge-sdk's CUDA kernels: the GPU preprocess (letterbox_f32 / _f16 / _u8) and a test engine (spin_copy).
 *
 * No #include and no CUDA headers: the same text compiles with NVRTC at run time (where the prebuilt fatbin does
 * not fit the GPU) and with NVRTC in tools/gpu/build_kernels.py (the committed fatbin), so neither needs nvcc or
 * the toolkit's headers. The half conversion is one PTX instruction (cvt.rn.f16.f32), as cuda_fp16.h does it.
 *
 * letterbox_<T>: one thread per pixel of the model input does the whole preprocess in one pass over the raw
 * 8-bit frame (3 interleaved channels, BGR or RGB): the resize with the fixed-point tables of
 * edge_sdk/cuda/letterbox_plan.py (OpenCV's INTER_LINEAR arithmetic, or nearest with weights 2048/0), the
 * padding, the channel order, out = float32(level) * mul[c] + add[c] per output channel in float32, rounded after
 * the product and after the sum (not fused: the same values as numpy; scale, mean and std folded into mul and add),
 * and the layout: element (c, y, x) lands at c * plane_stride + (y * dst_w + x) * pixel_stride (NCHW: H*W and 1;
 * NHWC: 1 and 3). Padding writes pad[c], the output value of the pad level.
 */
typedef unsigned char u8;
typedef unsigned short u16;

__device__ __forceinline__ void store(float* dst, long long i, float v) { dst[i] = v; }

__device__ __forceinline__ void store(u16* dst, long long i, float v)
{
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    dst[i] = h;
}

__device__ __forceinline__ void store(u8* dst, long long i, float v)
{
    dst[i] = (u8)min(max(__float2int_rn(v), 0), 255);
}

template <typename T>
__device__ __forceinline__ void letterbox(
    const u8* __restrict__ src, int src_w, int src_h, int src_pitch, int swap_rb,
    const int* __restrict__ xtab, const int* __restrict__ ytab, int new_w, int new_h, int left, int top,
    T* __restrict__ dst, int dst_w, int dst_h, int plane_stride, int pixel_stride,
    float m0, float m1, float m2, float a0, float a1, float a2, float p0, float p1, float p2)
{
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dst_w || y >= dst_h) return;
    const long long o = ((long long)y * dst_w + x) * pixel_stride;
    const int ix = x - left, iy = y - top;
    if (ix < 0 || iy < 0 || ix >= new_w || iy >= new_h) {
        store(dst, o, p0);
        store(dst, o + plane_stride, p1);
        store(dst, o + 2LL * plane_stride, p2);
        return;
    }
    const int sx = xtab[3 * ix], wx0 = xtab[3 * ix + 1], wx1 = xtab[3 * ix + 2];
    const int sy = ytab[3 * iy], wy0 = ytab[3 * iy + 1], wy1 = ytab[3 * iy + 2];
    const int sx1 = min(sx + 1, src_w - 1), sy1 = min(sy + 1, src_h - 1);
    const u8* r0 = src + (long long)sy * src_pitch;
    const u8* r1 = src + (long long)sy1 * src_pitch;
    const float mul[3] = {m0, m1, m2};
    const float add[3] = {a0, a1, a2};
    #pragma unroll
    for (int c = 0; c < 3; ++c) {
        const int s = swap_rb ? 2 - c : c;  /* the source channel of output channel c */
        const int h0 = r0[3 * sx + s] * wx0 + r0[3 * sx1 + s] * wx1;
        const int h1 = r1[3 * sx + s] * wx0 + r1[3 * sx1 + s] * wx1;
        int v = ((((h0 >> 4) * wy0) >> 16) + (((h1 >> 4) * wy1) >> 16) + 2) >> 2;
        v = min(max(v, 0), 255);
        store(dst, o + (long long)c * plane_stride, __fadd_rn(__fmul_rn((float)v, mul[c]), add[c]));
    }
}

#define LETTERBOX_KERNEL(NAME, T)                                                                                   \
    extern "C" __global__ void NAME(                                                                                 \
        const u8* src, int src_w, int src_h, int src_pitch, int swap_rb, const int* xtab, const int* ytab,          \
        int new_w, int new_h, int left, int top, T* dst, int dst_w, int dst_h, int plane_stride, int pixel_stride, \
        float m0, float m1, float m2, float a0, float a1, float a2, float p0, float p1, float p2)                    \
    {                                                                                                                \
        letterbox<T>(src, src_w, src_h, src_pitch, swap_rb, xtab, ytab, new_w, new_h, left, top, dst, dst_w, dst_h, \
                     plane_stride, pixel_stride, m0, m1, m2, a0, a1, a2, p0, p1, p2);                                \
    }

LETTERBOX_KERNEL(letterbox_f32, float)
LETTERBOX_KERNEL(letterbox_f16, u16)
LETTERBOX_KERNEL(letterbox_u8, u8)

/* A test and benchmark engine's compute: every block spins on clock64() for `cycles`, then the grid writes
 * in[i] + 1 to out[i] for the first n_copy floats. Its grid fills every SM, like a real model's inference. */
extern "C" __global__ void spin_copy(const float* __restrict__ in, float* __restrict__ out, long long n_copy,
                                     long long cycles)
{
    const long long start = clock64();
    while (clock64() - start < cycles) { }
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n_copy; i += stride)
        out[i] = in[i] + 1.0f;
}
