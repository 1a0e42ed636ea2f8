// Mesh rasterisation for the digital mask: the CUDA port of dmask/draw/cpu.py.
//
// The algorithm, the float32 operation order and every rule are those of the
// CPU reference (see the docstring of dmask/draw/cpu.py); the two must give
// the same bytes. Build with --fmad=false (no multiply-add contraction) and
// the default -prec-div=true -prec-sqrt=true -ftz=false.
//
// The same source compiles as plain C++ with -DRASTER_HOST: the kernels become
// loops over the same per-triangle and per-pixel functions, so CI checks the
// arithmetic against the CPU renderer on a machine without a GPU
// (tests/test_kernels.py).
//
// Kernels (all arrays C-contiguous, row-major):
//
//   clear_keys      one thread per pixel; writes one 8-byte key.
//                   Launch: 1D, ceil(H*W / 256) blocks of 256.
//                   Traffic: 8 B written per pixel.
//
//   rasterize       one thread per triangle; the thread walks the triangle's
//                   clamped bounding box and does one 64-bit atomicMin per
//                   covered pixel centre on key = (ordered bits of z) << 32 | t,
//                   which is exactly the CPU's "nearer wins, equal depth ->
//                   lower triangle index wins" rule, independent of order.
//                   Launch: 1D, ceil(T / 128) blocks of 128.
//                   Traffic: 36 B of positions and 12 B of indices read per
//                   triangle; one 8-byte atomic per covered pixel (avatar
//                   triangles cover tens to hundreds of pixels each).
//
//   shade_pixels    one thread per pixel; decodes the triangle id from the
//                   key, recomputes its barycentrics, interpolates normal and
//                   (textured materials) uv, samples the texture bilinearly,
//                   shades and writes BGR8 straight into the frame buffer
//                   that JPEG encoding reads.
//                   Launch: 2D, 16x16 blocks over W x H.
//                   Traffic: 8 B key read per pixel; per covered pixel about
//                   100 B of vertex data and 48 B of texels (cached:
//                   neighbouring pixels share a triangle and texels); 3 B
//                   written per pixel.

#ifdef RASTER_HOST
#include <cmath>
#include <cstdint>
#include <cstring>
#define DEV static inline
#define KEY_MAX UINT64_MAX
#define RASTER_INF INFINITY
typedef uint64_t key_t_;
#else
#define DEV __device__ __forceinline__
#define KEY_MAX 0xFFFFFFFFFFFFFFFFull
#define RASTER_INF __int_as_float(0x7f800000)
typedef unsigned long long key_t_;
typedef unsigned int uint32_t;
typedef unsigned char uint8_t;
#endif

struct Shading {
    float lx, ly, lz;      // light direction (towards the light), camera space
    float hx, hy, hz;      // Blinn half vector
    int n_materials;
    int texture_width, texture_height;
};

// The shading constants arrive as 6 floats (light, then half vector) so every
// launcher passes plain arrays.
DEV Shading load_shading(const float* c, int n_materials, int texture_width, int texture_height) {
    Shading s = {c[0], c[1], c[2], c[3], c[4], c[5], n_materials, texture_width, texture_height};
    return s;
}

struct Triangle {
    bool ok;
    int a, b, c;           // vertex indices after the swap rule
    float area2;
};

// Finite, written out so it needs no math header under NVRTC: NaN fails
// the comparison, and infinities exceed the largest float.
DEV bool finite(float x) {
    return fabsf(x) <= 3.40282347e38f;
}

DEV bool finite3(const float* p) {
    return finite(p[0]) && finite(p[1]) && finite(p[2]);
}

// Step 1-2 of both passes: validity, signed area, back-face cull, swap rule.
DEV Triangle setup_triangle(const float* positions, const int* triangles, int n_vertices, int t, bool cull_back) {
    Triangle tri = {false, triangles[3 * t], triangles[3 * t + 1], triangles[3 * t + 2], 0.0f};
    if (tri.a < 0 || tri.a >= n_vertices || tri.b < 0 || tri.b >= n_vertices || tri.c < 0 || tri.c >= n_vertices)
        return tri;
    const float* pa = positions + 3 * tri.a;
    const float* pb = positions + 3 * tri.b;
    const float* pc = positions + 3 * tri.c;
    if (!finite3(pa) || !finite3(pb) || !finite3(pc))
        return tri;
    float area2 = (pb[0] - pa[0]) * (pc[1] - pa[1]) - (pb[1] - pa[1]) * (pc[0] - pa[0]);
    if (area2 > 0.0f) {
        tri.ok = true;
        tri.area2 = area2;
    } else if (area2 < 0.0f && !cull_back) {
        int b = tri.b;
        tri.b = tri.c;
        tri.c = b;
        tri.ok = true;
        tri.area2 = -area2;
    }
    return tri;
}

// Orders float bits as unsigned integers (z is never -0: the depth adds +0).
DEV uint32_t ordered_bits(float z) {
    uint32_t bits;
#ifdef RASTER_HOST
    std::memcpy(&bits, &z, 4);
#else
    bits = __float_as_uint(z);
#endif
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

DEV void atomic_min_key(key_t_* slot, key_t_ key) {
#ifdef RASTER_HOST
    if (key < *slot) *slot = key;
#else
    atomicMin(slot, key);
#endif
}

// Pass 1 for one triangle: every covered pixel centre offers its key.
DEV void rasterize_triangle(const float* positions, const int* triangles, int n_vertices, int t,
                            bool cull_back, int width, int height, key_t_* keys) {
    Triangle tri = setup_triangle(positions, triangles, n_vertices, t, cull_back);
    if (!tri.ok)
        return;
    const float* pa = positions + 3 * tri.a;
    const float* pb = positions + 3 * tri.b;
    const float* pc = positions + 3 * tri.c;
    float ax = pa[0], ay = pa[1], az = pa[2];
    float bx = pb[0], by = pb[1], bz = pb[2];
    float cx = pc[0], cy = pc[1], cz = pc[2];
    float fxmin = ceilf(fminf(fminf(ax, bx), cx));
    float fxmax = floorf(fmaxf(fmaxf(ax, bx), cx));
    float fymin = ceilf(fminf(fminf(ay, by), cy));
    float fymax = floorf(fmaxf(fmaxf(ay, by), cy));
    if (fxmin < 0.0f) fxmin = 0.0f;
    if (fymin < 0.0f) fymin = 0.0f;
    if (fxmax > (float)(width - 1)) fxmax = (float)(width - 1);
    if (fymax > (float)(height - 1)) fymax = (float)(height - 1);
    if (fxmin > fxmax || fymin > fymax)
        return;
    float e0x = cx - bx, e0y = cy - by;
    float e1x = ax - cx, e1y = ay - cy;
    float e2x = bx - ax, e2y = by - ay;
    for (int py = (int)fymin; py <= (int)fymax; ++py) {
        float fy = (float)py;
        float dyb = fy - by, dyc = fy - cy, dya = fy - ay;
        for (int px = (int)fxmin; px <= (int)fxmax; ++px) {
            float fx = (float)px;
            float w0 = e0x * dyb - e0y * (fx - bx);
            if (w0 < 0.0f) continue;
            float w1 = e1x * dyc - e1y * (fx - cx);
            if (w1 < 0.0f) continue;
            float w2 = e2x * dya - e2y * (fx - ax);
            if (w2 < 0.0f) continue;
            float z = ((w0 * az + w1 * bz) + w2 * cz) / tri.area2;
            z = z + 0.0f;
            if (!(z < RASTER_INF)) continue;
            key_t_ key = ((key_t_)ordered_bits(z) << 32) | (key_t_)(uint32_t)t;
            atomic_min_key(keys + (size_t)py * width + px, key);
        }
    }
}

DEV float clamp255(float c) {
    if (!(c > 0.0f)) c = 0.0f;
    if (c > 255.0f) c = 255.0f;
    return c;
}

// Step 6 of pass 2: the texture's bilinear sample at (u, v) texels, clamped to its edge texels.
DEV void sample_texture(const float* texture, const Shading s, float u, float v, float* base) {
    float fw1 = (float)(s.texture_width - 1), fh1 = (float)(s.texture_height - 1);
    if (!(u >= 0.0f)) u = 0.0f;
    if (u > fw1) u = fw1;
    if (!(v >= 0.0f)) v = 0.0f;
    if (v > fh1) v = fh1;
    float fu = floorf(u), fv = floorf(v);
    int x0 = (int)fu, y0 = (int)fv;
    int x1 = x0 < s.texture_width - 1 ? x0 + 1 : x0;
    int y1 = y0 < s.texture_height - 1 ? y0 + 1 : y0;
    float du = u - fu, dv = v - fv;
    float eu = 1.0f - du, ev = 1.0f - dv;
    const float* t00 = texture + 3 * ((size_t)y0 * s.texture_width + x0);
    const float* t01 = texture + 3 * ((size_t)y0 * s.texture_width + x1);
    const float* t10 = texture + 3 * ((size_t)y1 * s.texture_width + x0);
    const float* t11 = texture + 3 * ((size_t)y1 * s.texture_width + x1);
    for (int ch = 0; ch < 3; ++ch)
        base[ch] = (t00[ch] * eu + t01[ch] * du) * ev + (t10[ch] * eu + t11[ch] * du) * dv;
}

// Pass 2 for one pixel: background, or the shaded colour of its triangle.
DEV void shade_pixel(const float* positions, const float* normals, const float* uv, const int* triangles,
                     const uint8_t* materials, int n_vertices, int n_triangles, const float* material_table,
                     const float* texture, const Shading s, const uint8_t* background, key_t_ key,
                     int px, int py, uint8_t* out) {
    int t = (int)(uint32_t)(key & 0xFFFFFFFFull);
    Triangle tri;
    if (key == KEY_MAX || t >= n_triangles || !(tri = setup_triangle(positions, triangles, n_vertices, t, false)).ok) {
        out[0] = background[0];
        out[1] = background[1];
        out[2] = background[2];
        return;
    }
    int ia = tri.a, ib = tri.b, ic = tri.c;
    float area2 = tri.area2;
    float ax = positions[3 * ia], ay = positions[3 * ia + 1];
    float bx = positions[3 * ib], by = positions[3 * ib + 1];
    float cx = positions[3 * ic], cy = positions[3 * ic + 1];
    float fx = (float)px, fy = (float)py;
    float w0 = (cx - bx) * (fy - by) - (cy - by) * (fx - bx);
    float w1 = (ax - cx) * (fy - cy) - (ay - cy) * (fx - cx);
    float w2 = (bx - ax) * (fy - ay) - (by - ay) * (fx - ax);
    float l0 = w0 / area2, l1 = w1 / area2, l2 = w2 / area2;
    const float* na = normals + 3 * ia;
    const float* nb = normals + 3 * ib;
    const float* nc = normals + 3 * ic;
    float nx = (l0 * na[0] + l1 * nb[0]) + l2 * nc[0];
    float ny = (l0 * na[1] + l1 * nb[1]) + l2 * nc[1];
    float nz = (l0 * na[2] + l1 * nb[2]) + l2 * nc[2];
    float len2 = (nx * nx + ny * ny) + nz * nz;
    if (len2 > 0.0f) {
        float ln = sqrtf(len2);
        nx = nx / ln;
        ny = ny / ln;
        nz = nz / ln;
    } else {
        nx = 0.0f;
        ny = 0.0f;
        nz = -1.0f;
    }
    float diff = (nx * s.lx + ny * s.ly) + nz * s.lz;
    if (!(diff > 0.0f)) diff = 0.0f;
    float spec = (nx * s.hx + ny * s.hy) + nz * s.hz;
    if (!(spec > 0.0f)) spec = 0.0f;
    spec = spec * spec;
    spec = spec * spec;
    spec = spec * spec;
    spec = spec * spec;
    int m = materials[t];
    if (m >= s.n_materials) m = 0;
    const float* row = material_table + 7 * m;
    float base[3] = {row[0], row[1], row[2]};
    if (row[6] > 0.0f) {
        float u = (l0 * uv[2 * ia] + l1 * uv[2 * ib]) + l2 * uv[2 * ic];
        float v = (l0 * uv[2 * ia + 1] + l1 * uv[2 * ib + 1]) + l2 * uv[2 * ic + 1];
        sample_texture(texture, s, u, v, base);
    }
    float k = row[3] + row[4] * diff;
    float sp = (255.0f * row[5]) * spec;
    for (int ch = 0; ch < 3; ++ch)
        out[ch] = (uint8_t)floorf(clamp255(base[ch] * k + sp) + 0.5f);
}

#ifdef RASTER_HOST

// Host emulation: the kernels' loops, run in order on the CPU.
extern "C" void host_render(const float* positions, const float* normals, const float* uv, const int* triangles,
                            const uint8_t* materials, int n_vertices, int n_triangles, const float* material_table,
                            int n_materials, const float* texture, int texture_width, int texture_height,
                            const float* constants, const uint8_t* background, int cull_back, int width, int height,
                            key_t_* keys, uint8_t* out) {
    Shading s = load_shading(constants, n_materials, texture_width, texture_height);
    for (size_t i = 0; i < (size_t)width * height; ++i) keys[i] = KEY_MAX;
    for (int t = 0; t < n_triangles; ++t)
        rasterize_triangle(positions, triangles, n_vertices, t, cull_back != 0, width, height, keys);
    for (int py = 0; py < height; ++py)
        for (int px = 0; px < width; ++px) {
            size_t i = (size_t)py * width + px;
            shade_pixel(positions, normals, uv, triangles, materials, n_vertices, n_triangles, material_table,
                        texture, s, background, keys[i], px, py, out + 3 * i);
        }
}

#else

extern "C" __global__ void clear_keys(key_t_* keys, int n_pixels) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n_pixels) keys[i] = KEY_MAX;
}

extern "C" __global__ void rasterize(const float* positions, const int* triangles, int n_vertices, int n_triangles,
                                     int cull_back, int width, int height, key_t_* keys) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n_triangles)
        rasterize_triangle(positions, triangles, n_vertices, t, cull_back != 0, width, height, keys);
}

extern "C" __global__ void shade(const float* positions, const float* normals, const float* uv,
                                 const int* triangles, const uint8_t* materials, int n_vertices, int n_triangles,
                                 const float* material_table, int n_materials, const float* texture,
                                 int texture_width, int texture_height, const float* constants,
                                 const uint8_t* background, const key_t_* keys, int width, int height, uint8_t* out) {
    Shading s = load_shading(constants, n_materials, texture_width, texture_height);
    int px = blockIdx.x * blockDim.x + threadIdx.x;
    int py = blockIdx.y * blockDim.y + threadIdx.y;
    if (px >= width || py >= height) return;
    size_t i = (size_t)py * width + px;
    shade_pixel(positions, normals, uv, triangles, materials, n_vertices, n_triangles, material_table,
                texture, s, background, keys[i], px, py, out + 3 * i);
}

#endif
