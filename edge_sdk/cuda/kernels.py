"""CUDA C kernels of the runner, compiled once per context with pycuda's SourceModule (nvcc).

`letterbox_f32` / `letterbox_f16`: one thread per input-tensor pixel does the whole preprocess of
`edge_sdk.preprocess.letterbox` in one pass over the raw 8-bit BGR frame: the bilinear resize with
OpenCV's tables and fixed-point arithmetic (see `letterbox_plan.py`), the grey (114) padding, BGR to RGB,
the scaling to 0..1 and HWC to NCHW. So the raw frame (1 byte per channel) crosses the bus instead of a
float tensor four times the size, and the CPU does nothing per pixel.

`spin_copy`: a test and benchmark engine's compute. Every block spins on `clock64()` for a set number of
cycles, then the grid copies `n_copy` floats of the input to the output, adding 1. Its grid fills every SM,
so two such kernels from different streams do not run side by side: it behaves like a real model's
inference that occupies the whole GPU.
"""

from __future__ import annotations

from typing import Any

LETTERBOX_SOURCE = r"""
#include <cuda_fp16.h>

template <typename T> __device__ __forceinline__ T to_out(float v);
template <> __device__ __forceinline__ float to_out<float>(float v) { return v; }
template <> __device__ __forceinline__ __half to_out<__half>(float v) { return __float2half_rn(v); }

template <typename T>
__device__ __forceinline__ void letterbox(
    const unsigned char* __restrict__ src, int src_w, int src_h, int src_pitch,
    const int* __restrict__ xtab, const int* __restrict__ ytab, int new_w, int new_h, int left, int top,
    T* __restrict__ dst, int dst_w, int dst_h, float inv255)
{
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dst_w || y >= dst_h) return;
    const size_t plane = (size_t)dst_w * dst_h;
    const size_t o = (size_t)y * dst_w + x;
    const int ix = x - left, iy = y - top;
    if (ix < 0 || iy < 0 || ix >= new_w || iy >= new_h) {
        const T pad = to_out<T>(114.0f * inv255);
        dst[o] = pad; dst[o + plane] = pad; dst[o + 2 * plane] = pad;
        return;
    }
    const int sx = xtab[3 * ix], a0 = xtab[3 * ix + 1], a1 = xtab[3 * ix + 2];
    const int sy = ytab[3 * iy], b0 = ytab[3 * iy + 1], b1 = ytab[3 * iy + 2];
    const int sx1 = min(sx + 1, src_w - 1), sy1 = min(sy + 1, src_h - 1);
    const unsigned char* r0 = src + (size_t)sy * src_pitch;
    const unsigned char* r1 = src + (size_t)sy1 * src_pitch;
    #pragma unroll
    for (int c = 0; c < 3; ++c) {
        const int h0 = r0[3 * sx + c] * a0 + r0[3 * sx1 + c] * a1;
        const int h1 = r1[3 * sx + c] * a0 + r1[3 * sx1 + c] * a1;
        int v = ((((h0 >> 4) * b0) >> 16) + (((h1 >> 4) * b1) >> 16) + 2) >> 2;
        v = min(max(v, 0), 255);
        dst[o + (2 - c) * plane] = to_out<T>((float)v * inv255);  /* BGR source, RGB planes */
    }
}

extern "C" __global__ void letterbox_f32(
    const unsigned char* src, int src_w, int src_h, int src_pitch, const int* xtab, const int* ytab,
    int new_w, int new_h, int left, int top, float* dst, int dst_w, int dst_h, float inv255)
{ letterbox<float>(src, src_w, src_h, src_pitch, xtab, ytab, new_w, new_h, left, top, dst, dst_w, dst_h, inv255); }

extern "C" __global__ void letterbox_f16(
    const unsigned char* src, int src_w, int src_h, int src_pitch, const int* xtab, const int* ytab,
    int new_w, int new_h, int left, int top, __half* dst, int dst_w, int dst_h, float inv255)
{ letterbox<__half>(src, src_w, src_h, src_pitch, xtab, ytab, new_w, new_h, left, top, dst, dst_w, dst_h, inv255); }

extern "C" __global__ void spin_copy(const float* __restrict__ in, float* __restrict__ out,
                                     long long n_copy, long long cycles)
{
    const long long start = clock64();
    while (clock64() - start < cycles) { }
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n_copy; i += stride)
        out[i] = in[i] + 1.0f;
}
"""

LETTERBOX_ARGS = "PiiiPPiiiiPiif"  # pycuda prepared-call signature of letterbox_f32 / letterbox_f16
SPIN_ARGS = "PPqq"
BLOCK_2D = (32, 8, 1)


def compile_module() -> Any:
    """Compile the kernels for the current context's device (nvcc; a few seconds, cached by pycuda on disk)."""
    from pycuda.compiler import SourceModule

    from edge_sdk.cuda.check import cuda_call

    with cuda_call("kernel compilation (nvcc)", where="edge_sdk/cuda/kernels.py"):
        return SourceModule(LETTERBOX_SOURCE, no_extern_c=True)


def grid_2d(width: int, height: int) -> tuple[int, int]:
    bx, by, _ = BLOCK_2D
    return ((width + bx - 1) // bx, (height + by - 1) // by)
