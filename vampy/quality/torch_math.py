"""Two torch CPU kernels in numpy, bit for bit, for vendor scripts whose written text depends on their last bit.

- `sigmoid_f32`: torch's float32 sigmoid on an x86-64 CPU with AVX-512 (torch's default there): blocks of
  32 values go through SLEEF's expf (u10), the tail of a tensor (its size mod 32) through glibc's expf,
  then 1 / (1 + e) in float32. Checked against torch 2.13 on millions of values; where torch runs a tensor
  in several threads, a chunk boundary off a multiple of 32 moves values from one path to the other.
- `sort_desc_order`: the order of torch's unstable descending sort on the CPU (libstdc++'s std::sort of
  (value, index) pairs: introsort, median of three, insertion sort below 17), which places equal values
  differently from a stable sort once there are more than 16.

Why not torch itself (and torchvision's batched_nms): the CPU wheel is 192 MB to download and 754 MB
installed (torch 2.13.0+cpu, measured 2026-12-06), for two element-wise kernels and a sort in one preset;
torchvision's wheel on the registry is a CUDA build whose C++ ops do not load without a GPU stack. The
emulation was checked byte for byte against that torch on about 300,000 written lines (coco_det_yolox).
Its limits, listed in the preset's deviations: a CPU without AVX-512 (torch then runs every value through
SLEEF), a thread count that splits a head off a multiple of 32, torch's MKL exp of the box sizes (one ulp
off in ~1% of values; a written integer changes only on a .5 edge).
"""
from __future__ import annotations

import math

import numpy as np

_F32 = np.float32
VECTOR_BLOCK = 32  # torch's vectorised loop: 2 x 16 floats a step with AVX-512; the rest of a tensor is scalar
# SLEEF xexpf (u10): Cody-Waite reduction by ln 2, a degree-6 polynomial, fused multiply-adds.
_R_LN2 = _F32(1.442695040888963407359924681001892137426645954152985934135449406931)
_L2U, _L2L = _F32(0.693145751953125), _F32(1.428606765330187045e-06)
_SLEEF_POLY = tuple(_F32(c) for c in (0.000198527617612853646278381, 0.00139304355252534151077271,
                                      0.00833336077630519866943359, 0.0416664853692054748535156,
                                      0.166666671633720397949219, 0.5))
# glibc's expf (sysdeps/ieee754/flt-32/e_expf.c): double arithmetic, a 32-entry table of 2^(i/32).
_N = 32
_INV_LN2_N = float.fromhex("0x1.71547652b82fep+0") * _N
_SHIFT = float.fromhex("0x1.8p+52")
_GLIBC_POLY = (float.fromhex("0x1.c6af84b912394p-5") / _N ** 3, float.fromhex("0x1.ebfce50fac4f3p-3") / _N ** 2,
               float.fromhex("0x1.62e42ff0c52d6p-1") / _N)


def _table() -> np.ndarray:
    """glibc's __exp2f_data.tab: the bits of 2^(i/32) (correctly rounded doubles) less i << 47."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        powers = np.array([float(Decimal(2) ** (Decimal(i) / _N)) for i in range(_N)])
    return powers.view(np.uint64) - (np.arange(_N, dtype=np.uint64) << np.uint64(47))


_TABLE = _table()


def _fma(a: np.ndarray, b: np.ndarray | np.float32, c: np.ndarray | np.float32) -> np.ndarray:
    """float32 fused multiply-add: the float32 product is exact in float64; the sum's float64 rounding changes the
    float32 result only where it lands exactly on a float32 half-way point (about 2**-29 of cases)."""
    return (a.astype(np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(_F32)


def expf_sleef(d: np.ndarray) -> np.ndarray:
    """SLEEF's xexpf in float32, as torch's Vectorized<float>::exp computes it."""
    d = np.asarray(d, _F32)
    with np.errstate(over="ignore", invalid="ignore"):
        q = np.rint(d * _R_LN2)
        s = _fma(q, -_L2L, _fma(q, -_L2U, d))  # x - q ln 2, ln 2 in two parts
        u = np.full_like(d, _SLEEF_POLY[0])
        for c in _SLEEF_POLY[1:]:
            u = _fma(u, s, c)
        u = _F32(1) + _fma(s * s, u, s)
        power = np.exp2(np.nan_to_num(q, posinf=0, neginf=0).astype(np.float64))
        u = (u.astype(np.float64) * power).astype(_F32)  # exact in float64; the cast rounds once, as SLEEF's ldexp
    u = np.where(d < _F32(-104), _F32(0), u)
    return np.where(d > _F32(100), _F32(np.inf), u).astype(_F32)


def expf_glibc(x: np.ndarray) -> np.ndarray:
    """glibc's expf (the scalar std::exp), vectorised: the same double steps, then one rounding to float."""
    x = np.asarray(x, _F32)
    xd = x.astype(np.float64)
    z = _INV_LN2_N * xd
    kd = z + _SHIFT  # rounds z to an integer (ties to even) in the low bits
    ki = kd.view(np.uint64)
    r = z - (kd - _SHIFT)
    with np.errstate(over="ignore", invalid="ignore"):
        scale = (_TABLE[ki % np.uint64(_N)] + (ki << np.uint64(47))).view(np.float64)
        y = (_GLIBC_POLY[0] * r + _GLIBC_POLY[1]) * (r * r) + (_GLIBC_POLY[2] * r + 1.0)
        out = (y * scale).astype(_F32)
    out = np.where(x > _F32(float.fromhex("0x1.62e42ep6")), _F32(np.inf), out)
    out = np.where(x < _F32(float.fromhex("-0x1.9fe368p6")), _F32(0), out)
    return np.where(np.isnan(x), x, out).astype(_F32)


def sigmoid_f32(x: np.ndarray) -> np.ndarray:
    """torch's float32 sigmoid of one contiguous tensor: 1 / (1 + exp(-x)), each step rounded to float32."""
    flat = np.asarray(x, _F32).ravel()
    cut = flat.size - flat.size % VECTOR_BLOCK
    e = np.concatenate([expf_sleef(-flat[:cut]), expf_glibc(-flat[cut:])])
    with np.errstate(over="ignore"):
        return (_F32(1) / (_F32(1) + e)).astype(_F32).reshape(np.shape(x))


def sort_desc_order(values: np.ndarray) -> np.ndarray:
    """The index order torch's unstable descending CPU sort gives: libstdc++'s std::sort, step for step."""
    return np.array(_StdSort([float(v) for v in np.asarray(values).ravel()]).run(), dtype=np.int64)


class _StdSort:
    """libstdc++'s std::sort (introsort) of positions 0..n-1 under torch's KeyValueCompDesc (NaN first, then greater)."""

    def __init__(self, keys: list[float]) -> None:
        self.keys = keys
        self.a = list(range(len(keys)))

    def before(self, i: int, j: int) -> bool:
        x, y = self.keys[i], self.keys[j]
        return (math.isnan(x) and not math.isnan(y)) or x > y

    def run(self) -> list[int]:
        n = len(self.a)
        if n > 1:
            self._introsort(0, n, 2 * (n.bit_length() - 1))
            self._insertion(0, min(n, 16))
            for i in range(16, n):
                self._linear_insert(i)
        return self.a

    def _introsort(self, first: int, last: int, depth: int) -> None:
        a = self.a
        while last - first > 16:
            if depth == 0:
                self._heap_sort(first, last)
                return
            depth -= 1
            self._median_to_first(first, first + 1, first + (last - first) // 2, last - 1)
            lo, hi = first + 1, last
            while True:  # the unguarded partition around a[first]
                while self.before(a[lo], a[first]):
                    lo += 1
                hi -= 1
                while self.before(a[first], a[hi]):
                    hi -= 1
                if not lo < hi:
                    break
                a[lo], a[hi] = a[hi], a[lo]
                lo += 1
            self._introsort(lo, last, depth)
            last = lo

    def _median_to_first(self, result: int, x: int, y: int, z: int) -> None:
        a, b = self.a, self.before
        if b(a[x], a[y]):
            pick = y if b(a[y], a[z]) else (z if b(a[x], a[z]) else x)
        else:
            pick = x if b(a[x], a[z]) else (z if b(a[y], a[z]) else y)
        a[result], a[pick] = a[pick], a[result]

    def _insertion(self, first: int, last: int) -> None:
        a = self.a
        for i in range(first + 1, last):
            if self.before(a[i], a[first]):
                a[first:i + 1] = [a[i], *a[first:i]]
            else:
                self._linear_insert(i)

    def _linear_insert(self, last: int) -> None:
        a = self.a
        value = a[last]
        while self.before(value, a[last - 1]):
            a[last] = a[last - 1]
            last -= 1
        a[last] = value

    def _heap_sort(self, first: int, last: int) -> None:
        a = self.a
        n = last - first
        for parent in range((n - 2) // 2, -1, -1):
            self._adjust_heap(first, parent, n, a[first + parent])
        while last - first > 1:
            last -= 1
            value, a[last] = a[last], a[first]
            self._adjust_heap(first, 0, last - first, value)

    def _adjust_heap(self, first: int, hole: int, length: int, value: int) -> None:
        a, top, child = self.a, hole, hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if self.before(a[first + child], a[first + child - 1]):
                child -= 1
            a[first + hole] = a[first + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            a[first + hole] = a[first + child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > top and self.before(a[first + parent], value):
            a[first + hole] = a[first + parent]
            hole = parent
            parent = (hole - 1) // 2
        a[first + hole] = value
