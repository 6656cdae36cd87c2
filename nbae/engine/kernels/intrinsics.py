"""Low-level building blocks of the kernels: array views, a bit cast, a dtype cast and the
vectorisable exp/tanh/sigmoid.

``view2d``/``view1d`` and ``_f64_from_bits`` are Numba intrinsics written against Numba's
internal array model (``numba.np.arrayobj``, ``numba.core.cgutils``), which is not public API:
pyproject pins numba to the tested minor release. ``NUMBA_DISABLE_JIT=1`` swaps them for plain
NumPy equivalents.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir as llvm_ir
from numba import config as numba_config
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

JIT = {"cache": True, "nogil": True}
# error_model='numpy' lets divisions vectorise (no ZeroDivisionError checks): ~3x on Adam.
JIT_NP = {"cache": True, "nogil": True, "error_model": "numpy"}


# ---------------------------------------------------------------------------------------------
# array views. ``flat[a:b].reshape(...)`` goes through Numba's general reshape helper (~15 ns a
# call, ~80 calls a training step: 10% of a font-sized step); these build the view directly.


def _view_codegen(context, builder, src_type, dst_type, src_value, offset, dims):
    src = make_array(src_type)(context, builder, src_value)
    dst = make_array(dst_type)(context, builder)
    itemsize = context.get_constant(types.intp, context.get_abi_sizeof(
        context.get_data_type(src_type.dtype)))
    strides = [itemsize]
    for d in dims[:0:-1]:  # C order: the last axis is contiguous
        strides.insert(0, builder.mul(strides[0], d))
    populate_array(dst, data=builder.gep(src.data, [offset]),
                   shape=cgutils.pack_array(builder, list(dims)),
                   strides=cgutils.pack_array(builder, strides), itemsize=itemsize,
                   meminfo=src.meminfo, parent=None)
    out = dst._getvalue()
    context.nrt.incref(builder, dst_type, out)  # the view shares (and keeps alive) the memory
    return out


@intrinsic
def view2d(typingctx, flat, offset, rows, cols):
    """C-contiguous (rows, cols) view of ``flat[offset:offset + rows * cols]``.

    ``flat`` must be a C-contiguous 1-D array; bounds are the caller's responsibility.
    """
    if not (isinstance(flat, types.Array) and flat.ndim == 1 and flat.layout == "C"):
        return None
    retty = types.Array(flat.dtype, 2, "C")

    def codegen(context, builder, sig, args):
        return _view_codegen(context, builder, sig.args[0], retty, args[0], args[1],
                             (args[2], args[3]))
    return retty(flat, types.intp, types.intp, types.intp), codegen


@intrinsic
def view1d(typingctx, arr):
    """1-D view of all elements of a C-contiguous 2-D array."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and arr.layout == "C"):
        return None
    retty = types.Array(arr.dtype, 1, "C")

    def codegen(context, builder, sig, args):
        a = make_array(sig.args[0])(context, builder, args[0])
        n0, n1 = cgutils.unpack_tuple(builder, a.shape, 2)
        zero = context.get_constant(types.intp, 0)
        return _view_codegen(context, builder, sig.args[0], retty, args[0], zero,
                             (builder.mul(n0, n1),))
    return retty(arr), codegen


if numba_config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1 (coverage, debugging): plain NumPy views
    def view2d(flat, offset, rows, cols):  # noqa: F811
        return flat[offset:offset + rows * cols].reshape(rows, cols)

    def view1d(arr):  # noqa: F811
        return arr.reshape(-1)


@njit(inline="always")
def cast_like(arr, x):
    """``x`` converted to the element type of ``arr`` (e.g. a float64 scalar for float32 code)."""
    return arr.dtype.type(x)


# ---------------------------------------------------------------------------------------------
# exp, tanh, sigmoid

_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two so that k * ln2 is exact (Cody-Waite)
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00


@intrinsic
def _f64_from_bits(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits (a vectorisable bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _bits_from_f64(typingctx, x):
    """The int64 with the same bits as float64 ``x`` (a vectorisable bitcast)."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], llvm_ir.IntType(64))
    return types.int64(types.float64), codegen


if numba_config.DISABLE_JIT:
    def _f64_from_bits(bits):  # noqa: F811
        return np.int64(bits).view(np.float64)

    def _bits_from_f64(x):  # noqa: F811
        return np.float64(x).view(np.int64)


@njit(inline="always")
def _pow2(k):
    """2.0 ** k for integer-valued float k in [-1022, 1023], built from its exponent bits.

    k + 2^52 + 1023 is exact and holds k + 1023 in its low mantissa bits; shifted left by 52
    they are the exponent field of 2^k. No float -> int64 conversion: AVX2 has none for
    vectors, and with one (``np.int64(k)``) the activation loops converted value by value on
    AVX2 machines (tanh 6.8 ns a value; 4.7 ns without, the same bits).
    """
    return _f64_from_bits(_bits_from_f64(k + 4503599627371519.0) << 52)


@njit(inline="always")
def _exp_nonpositive(y):
    """exp(y) for -1075 <= y <= 0, within ~1 ulp, from arithmetic LLVM can vectorise.

    Without Intel's SVML, LLVM calls libm's scalar exp/tanh (~5-10 ns an element here).
    Cody-Waite reduction y = k ln2 + r with |r| <= ln2 / 2, exp(r) by its degree-13 Taylor
    polynomial (truncation error < 2e-16), and 2^k applied as two exact powers of two so
    that subnormal results come out right.
    """
    k = np.floor(y * _INV_LN2 + 0.5)
    r = (y - k * _LN2_HI) - k * _LN2_LO
    er = 1.0 / 6227020800.0
    er = er * r + 1.0 / 479001600.0
    er = er * r + 1.0 / 39916800.0
    er = er * r + 1.0 / 3628800.0
    er = er * r + 1.0 / 362880.0
    er = er * r + 1.0 / 40320.0
    er = er * r + 1.0 / 5040.0
    er = er * r + 1.0 / 720.0
    er = er * r + 1.0 / 120.0
    er = er * r + 1.0 / 24.0
    er = er * r + 1.0 / 6.0
    er = er * r + 0.5
    er = er * r + 1.0
    er = er * r + 1.0
    k1 = np.floor(k * 0.5)
    return er * _pow2(k1) * _pow2(k - k1)


@njit(**JIT_NP)
def tanh_inplace(F):
    """tanh of a contiguous 1-D array in place, within 2 ulp of ``np.tanh``, vectorised.

    |x| < 0.625: Cephes' rational approximation x + x^3 P(x^2) / Q(x^2) (no cancellation);
    otherwise (1 - e) / (1 + e) with e = exp(-2|x|); |x| is capped at 20, where tanh rounds
    to 1.
    """
    for i in range(F.size):
        x = np.float64(F[i])
        a = min(abs(x), 20.0)
        z = a * a
        p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z \
            - 1.61468768441708447952e3
        q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z \
            + 4.84406305325125486048e3
        small = a + a * z * p / q
        e = _exp_nonpositive(-2.0 * a)
        large = (1.0 - e) / (1.0 + e)
        t = small if a < 0.625 else large
        F[i] = t if x >= 0 else -t


@njit(**JIT_NP)
def sigmoid_inplace(F):
    """Logistic sigmoid in place, within 3 ulp of 1 / (1 + exp(-x)), vectorised.

    With e = exp(-|x|) <= 1 (never overflows): 1 / (1 + e) for x >= 0, e / (1 + e) below.
    """
    for i in range(F.size):
        x = np.float64(F[i])
        e = _exp_nonpositive(-min(abs(x), 745.0))
        d = 1.0 / (1.0 + e)
        F[i] = d if x >= 0 else e * d

