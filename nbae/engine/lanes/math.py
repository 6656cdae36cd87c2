"""Arithmetic building blocks of the lanes engine (``nbae.engine.lanes.kernels``).

- ``lane_scratch``: a small constant-size stack array that LLVM keeps in registers (per-lane
  scalars). The explicit vectors and the only fused operation (``vfma``) are in ``simd``.
- ``_slp``: compiles a kernel with LLVM's SLP vectoriser on (see its docstring).
- ``tanh_lanes`` / ``sigmoid_lanes`` (and ``_log``, from ``nbae.engine.kernels.libm``): the
  project's own, vectorisable transcendental functions, so no result depends on the machine's
  libm.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir as llvm_ir
from numba import config as numba_config
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from nbae.engine.kernels import _pow2, view1d, view2d
from nbae.engine.kernels.libm import _LN2_HI, _LN2_LO, _log  # noqa: F401 (re-exported)

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
# Computed indices are cast to unsigned: a signed index costs a negative-wraparound select per
# access, which blocks vectorisation of the lane loops.
U = np.uint64

# ---------------------------------------------------------------------------------------------
# intrinsics: bit casts and a small stack array LLVM can keep in registers


def _scratch(factor):
    """Intrinsic making a stack array of ``factor * len(lanes)`` elements (see lane_scratch)."""
    def typer(typingctx, lanes, like):
        if not (isinstance(lanes, types.UniTuple) and isinstance(like, types.Array)):
            return None
        width = factor * lanes.count
        retty = types.Array(like.dtype, 1, "C")

        def codegen(context, builder, sig, args):
            elty = context.get_data_type(like.dtype)
            ptr = cgutils.alloca_once(builder, llvm_ir.ArrayType(elty, width), zfill=True)
            ary = make_array(retty)(context, builder)
            itemsize = context.get_abi_sizeof(elty)
            populate_array(ary, data=builder.bitcast(ptr, elty.as_pointer()),
                           shape=[context.get_constant(types.intp, width)],
                           strides=[context.get_constant(types.intp, itemsize)],
                           itemsize=context.get_constant(types.intp, itemsize), meminfo=None)
            return ary._getvalue()
        return retty(lanes, like), codegen
    return typer


# lane_scratch(lanes, like): a 1-D array of len(lanes) elements of like's dtype in the stack
# frame. An entry-block alloca of constant size: after the lane loops unroll, LLVM promotes it
# to registers, which a heap array (whose pointer may alias the data arrays) never gets. Valid
# only inside the calling function: never return it.
lane_scratch = intrinsic(_scratch(1))


if numba_config.DISABLE_JIT:  # plain Python fallbacks (slow)
    def lane_scratch(lanes, like):  # noqa: F811
        return np.zeros(len(lanes), like.dtype)



def _slp(dispatcher):
    """Compile ``dispatcher`` (and the callees it compiles) with LLVM's SLP vectoriser on.

    The lane loops have constant trip counts, so LLVM unrolls them before its loop vectoriser
    runs; only the SLP vectoriser packs the unrolled lanes into SIMD registers, and Numba
    disables it by default (NUMBA_SLP_VECTORIZE=0). It is switched on for the duration of our
    compiles only. Without fastmath, vectorising never changes a result (tested), only speed;
    machine code loaded from the cache is whatever the first compile produced.
    """
    if not hasattr(dispatcher, "compile"):  # NUMBA_DISABLE_JIT
        return dispatcher
    compile_ = dispatcher.compile

    def compile(sig):
        old = numba_config.SLP_VECTORIZE
        numba_config.SLP_VECTORIZE = 1
        try:
            return compile_(sig)
        finally:
            numba_config.SLP_VECTORIZE = old
    dispatcher.compile = compile
    return dispatcher


@njit(inline="always")
def _seg(flat, off, n):
    """Contiguous 1-D view of ``flat[off:off + n]``."""
    return view1d(view2d(flat, off, 1, n))


# ---------------------------------------------------------------------------------------------
# exp of non-positive arguments (log: nbae.engine.kernels.libm, imported above)


_INV_LN2 = 1.44269504088896338700e00


@njit(inline="always")
def _exp_np(y):
    """exp(y) for -1075 <= y <= 0 within ~1 ulp, vectorisable on AVX2.

    nbae.kernels._exp_nonpositive's method (Cody-Waite reduction, degree-13 Taylor polynomial
    of exp(r), |r| <= ln2 / 2, 2^k as two exact powers of two), but the polynomial goes by
    Estrin's scheme (dependency depth ~8 instead of 26: the loop is latency-bound otherwise)
    and 2^k is built like there (``_pow2``: no float -> int64 conversion).
    """
    k = np.floor(y * _INV_LN2 + 0.5)
    r = (y - k * _LN2_HI) - k * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    p1 = (1.0 / 24.0 + r * (1.0 / 120.0)) + r2 * (1.0 / 720.0 + r * (1.0 / 5040.0))
    p2 = (1.0 / 40320.0 + r * (1.0 / 362880.0)) + r2 * (1.0 / 3628800.0
                                                       + r * (1.0 / 39916800.0))
    p3 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    # the small terms first, 1 + r last: the rounding error stays below an ulp of the result
    er = 1.0 + (r + (r2 * (0.5 + r * (1.0 / 6.0)) + r4 * (p1 + r4 * (p2 + r4 * p3))))
    k1 = np.floor(k * 0.5)
    return er * _pow2(k1) * _pow2(k - k1)


@_slp
@njit(**_JIT)
def tanh_lanes(F):
    """tanh in place, within 2 ulp of ``np.tanh``; nbae.kernels.tanh_inplace's formulas.

    One division serves both branches; the exp is ``_exp_np``.
    """
    for i in range(F.size):
        x = np.float64(F[i])
        a = min(abs(x), 20.0)
        z = a * a
        p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z \
            - 1.61468768441708447952e3
        q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z \
            + 4.84406305325125486048e3
        e = _exp_np(-2.0 * a)
        # one division for both branches: a + (a z p) / q (small |x|), (1 - e) / (1 + e)
        small = a < 0.625
        r = (a * z * p if small else 1.0 - e) / (q if small else 1.0 + e)
        t = a + r if small else r
        F[i] = t if x >= 0 else -t


@_slp
@njit(**_JIT)
def sigmoid_lanes(F):
    """Logistic sigmoid in place, within 3 ulp; nbae.kernels.sigmoid_inplace's formulas."""
    for i in range(F.size):
        x = np.float64(F[i])
        e = _exp_np(-min(abs(x), 745.0))
        d = 1.0 / (1.0 + e)
        F[i] = d if x >= 0 else e * d


@_slp
@njit(**_JIT)
def log_inplace(F):
    """log of a contiguous float64 array in place (for tests)."""
    for i in range(F.size):
        F[i] = _log(F[i])
