"""Explicit SIMD vectors for the lanes kernels: one value per lane, one LLVM vector register.

``Vec(dtype, W)`` is a Numba type whose machine representation is LLVM's ``<W x dtype>``, so
an expression over ``Vec`` values *is* a vector instruction: nothing depends on the
auto-vectorisers (the scalar lane loops of the optimizer ran at ~1 ns per element, measured in
issue 9), and accumulators declared as local variables stay in registers.

Every operation is lane-wise and IEEE-exact (``vfma`` is ``llvm.fma``: one rounding;
``vsqrt`` is ``llvm.sqrt``: correctly rounded; add/sub/mul/div are single IEEE operations
without fastmath flags), so a lane's result is the same bits as the scalar expression, on any
x86-64 CPU and for any W. ``W`` comes from the length of the ``lanes`` tuple, a compile-time
constant.

Loads and stores address a flat 1-D array by element offset (the lane-innermost layout of
``nbae.engine.lanes.kernels``) and are unaligned; they do not check bounds (the callers'
offsets come from the layout computed in ``nbae.engine.ensemble``).
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba import config as numba_config
from numba import types
from numba.core import cgutils
from numba.core.datamodel import models
from numba.extending import intrinsic, overload, register_model


def native_width(dtype):
    """Elements of ``dtype`` in one vector register of this CPU: 64 bytes with AVX-512F, else
    32 (AVX2). Sets ``register_lanes`` (one model's vectors) and the benchmarks' peak. The
    engine's default group widths stay 8 (float64) and 16 (float32) on every machine: the
    width is recorded in each model's training record, and a machine-dependent value would
    make committed model files differ."""
    wide = "+avx512f" in llvm_binding.get_host_cpu_features().flatten()
    return (64 if wide else 32) // np.dtype(dtype).itemsize


_REGISTER_LANES = {np.dtype(np.float64): (0,) * native_width(np.float64),
                   np.dtype(np.float32): (0,) * native_width(np.float32)}


def register_lanes(arr):
    """A lanes tuple as long as one vector register of ``arr``'s dtype (a constant in kernels).

    For elementwise work on one model (W = 1), whose elements can share a vector instead.
    """
    return _REGISTER_LANES[arr.dtype]


def unlit(x):
    """``x`` typed without literal values: ``(0,)`` written in a kernel is a tuple of literal
    zeros to Numba, ``(0,)`` from Python a tuple of int64, and each spelling of an argument
    compiles its own copy of the callee (seconds each for the products). Heavy kernels are
    called with ``unlit`` constants so that each compiles once per dtype and width."""
    return x


ONE = (0,)  # the lanes of one value alone (in kernels: ``unlit(ONE)``)


if not numba_config.DISABLE_JIT:
    @overload(register_lanes)
    def _register_lanes(arr):
        if not isinstance(arr, types.Array):
            return None
        lanes = _REGISTER_LANES[np.dtype(arr.dtype.name)]
        return lambda arr: unlit(lanes)

    @intrinsic
    def unlit(typingctx, x):  # noqa: F811
        if isinstance(x, types.UniTuple):
            ty = types.UniTuple(types.unliteral(x.dtype), x.count)
        else:
            ty = types.unliteral(x)

        def codegen(context, builder, sig, args):
            return context.cast(builder, args[0], sig.args[0], sig.return_type)
        return ty(x), codegen


def aligned_zeros(rows, n, dtype, align=64):
    """A (rows, n) view of zeros in which every row starts on an ``align``-byte boundary.

    NumPy aligns large arrays to 16 bytes only; a 32- or 64-byte vector load from such a row
    straddles a cache line every other time. Rows are contiguous (the kernels take one row).
    """
    dt = np.dtype(dtype)
    step = align // dt.itemsize
    stride = -(-n // step) * step
    raw = np.zeros(rows * stride + step, dt)
    start = (-raw.ctypes.data % align) // dt.itemsize
    return raw[start:start + rows * stride].reshape(rows, stride)[:, :n]


class Vec(types.Type):
    """W values of one float dtype, held as one LLVM vector."""

    def __init__(self, dtype, width):
        self.dtype = dtype
        self.width = width
        super().__init__(name=f"Vec({dtype}, {width})")


@register_model(Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.width))


def _is_vec(*ts):
    return isinstance(ts[0], Vec) and all(t == ts[0] for t in ts)


def _address(context, builder, arrty, arr, off, vty):
    """Pointer to ``arr.data[off]`` as a pointer to the vector type ``vty``."""
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [off]), vty.as_pointer())


def _align(context, dtype):
    return context.get_abi_sizeof(context.get_data_type(dtype))


def _loadable(arr, off, lanes):
    return (isinstance(arr, types.Array) and isinstance(off, types.Integer)
            and isinstance(lanes, types.UniTuple))


def _splat(builder, val, vty):
    """The vector of type ``vty`` with the scalar ``val`` in every lane."""
    vec = builder.insert_element(ir.Constant(vty, ir.Undefined), val,
                                 ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(vec, ir.Constant(vty, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), vty.count),
                                              [0] * vty.count))


def _call_intrinsic(builder, base, args):
    """Call the LLVM intrinsic ``base`` (e.g. "llvm.fma") on vector arguments of one type."""
    vty = args[0].type
    bits = 64 if isinstance(vty.element, ir.DoubleType) else 32
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * len(args)),
                                        f"{base}.v{vty.count}f{bits}")
    return builder.call(fn, args)


@intrinsic
def vload(typingctx, arr, off, lanes):
    """The W elements ``arr[off:off + W]`` as a vector (W = len(lanes))."""
    if not _loadable(arr, off, lanes):
        return None
    vt = Vec(arr.dtype, lanes.count)

    def codegen(context, builder, sig, args):
        ptr = _address(context, builder, sig.args[0], args[0], args[1],
                       context.get_value_type(vt))
        return builder.load(ptr, align=_align(context, arr.dtype))
    return vt(arr, off, lanes), codegen


@intrinsic
def vbroadcast(typingctx, arr, off, lanes):
    """The element ``arr[off]`` in all W lanes (W = len(lanes))."""
    if not _loadable(arr, off, lanes):
        return None
    vt = Vec(arr.dtype, lanes.count)

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        val = builder.load(builder.gep(data, [args[1]]), align=_align(context, arr.dtype))
        return _splat(builder, val, context.get_value_type(vt))
    return vt(arr, off, lanes), codegen


@intrinsic
def vstore(typingctx, arr, off, v):
    """``arr[off:off + W] = v``."""
    if not (isinstance(arr, types.Array) and isinstance(v, Vec) and arr.dtype == v.dtype):
        return None

    def codegen(context, builder, sig, args):
        ptr = _address(context, builder, sig.args[0], args[0], args[1], args[2].type)
        builder.store(args[2], ptr, align=_align(context, arr.dtype))
        return context.get_dummy_value()
    return types.none(arr, off, v), codegen


@intrinsic
def vzero(typingctx, like, lanes):
    """A vector of W zeros of ``like``'s dtype (``like``: an array)."""
    if not (isinstance(like, types.Array) and isinstance(lanes, types.UniTuple)):
        return None
    vt = Vec(like.dtype, lanes.count)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vt), None)
    return vt(like, lanes), codegen


@intrinsic
def vsplat(typingctx, x, like):
    """A vector holding the scalar ``x`` (converted to the vector's dtype) in every lane."""
    if not (isinstance(like, Vec) and isinstance(x, (types.Float, types.Integer))):
        return None

    def codegen(context, builder, sig, args):
        val = context.cast(builder, args[0], sig.args[0], like.dtype)
        return _splat(builder, val, context.get_value_type(like))
    return like(x, like), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """a * b + c with one rounding per lane (llvm.fma)."""
    if not _is_vec(a, b, c):
        return None

    def codegen(context, builder, sig, args):
        return _call_intrinsic(builder, "llvm.fma", args)
    return a(a, b, c), codegen


def _binary(op):
    def typer(typingctx, a, b):
        if not _is_vec(a, b):
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, op)(*args)
        return a(a, b), codegen
    return intrinsic(typer)


vadd = _binary("fadd")
vsub = _binary("fsub")
vmul = _binary("fmul")
vdiv = _binary("fdiv")


def _unary_intrinsic(name):
    def typer(typingctx, a):
        if not _is_vec(a):
            return None

        def codegen(context, builder, sig, args):
            return _call_intrinsic(builder, name, args)
        return a(a), codegen
    return intrinsic(typer)


vsqrt = _unary_intrinsic("llvm.sqrt")  # correctly rounded square root per lane
vabs = _unary_intrinsic("llvm.fabs")  # |a| per lane (clears the sign bit)
vfloor = _unary_intrinsic("llvm.floor")  # floor per lane (exact)


@intrinsic
def vneg(typingctx, a):
    """-a per lane (flips the sign bit, as Python's unary minus on a float)."""
    if not _is_vec(a):
        return None

    def codegen(context, builder, sig, args):
        return builder.fneg(args[0])
    return a(a), codegen


def _select(predicate):
    def typer(typingctx, a, b, x, y):
        if not (_is_vec(a, b) and _is_vec(x, y) and a.width == x.width):
            return None

        def codegen(context, builder, sig, args):
            mask = builder.fcmp_ordered(predicate, args[0], args[1])
            return builder.select(mask, args[2], args[3])
        return x(a, b, x, y), codegen
    return intrinsic(typer)


# per lane: x if a < b else y, x if a >= b else y (ordered: a comparison with NaN is false, as
# in Python). Python's min(a, b) on floats is vif_lt(b, a, b, a).
vif_lt = _select("<")
vif_ge = _select(">=")


@intrinsic
def vpow2_from_biased(typingctx, a):
    """Per lane, the float whose bits are those of ``a`` shifted left by the mantissa width.

    float64: a = k + (2^52 + 1023); float32: a = k + (2^23 + 127), k integer-valued with a
    normal result: the low bits of ``a`` then hold the biased exponent and the result is
    exactly 2.0 ** k (no float -> int conversion, which AVX2 lacks for vectors).
    """
    if not isinstance(a, Vec):
        return None
    bits, shift = (64, 52) if a.dtype == types.float64 else (32, 23)

    def codegen(context, builder, sig, args):
        ity = ir.VectorType(ir.IntType(bits), a.width)
        shifted = builder.shl(builder.bitcast(args[0], ity), ir.Constant(ity, [shift] * a.width))
        return builder.bitcast(shifted, args[0].type)
    return a(a), codegen


if numba_config.DISABLE_JIT:  # plain NumPy fallbacks (coverage runs)
    import math

    def vload(arr, off, lanes):  # noqa: F811
        return arr[off:off + len(lanes)].copy()

    def vstore(arr, off, v):  # noqa: F811
        arr[off:off + v.size] = v

    def vzero(like, lanes):  # noqa: F811
        return np.zeros(len(lanes), like.dtype)

    def vsplat(x, like):  # noqa: F811
        return np.full(like.size, x, like.dtype)

    def vfma(a, b, c):  # noqa: F811
        return np.array([math.fma(x, y, z) if hasattr(math, "fma") else x * y + z
                         for x, y, z in zip(a, b, c, strict=True)], a.dtype)

    def vsqrt(a):  # noqa: F811
        return np.sqrt(a)

    def vadd(a, b):  # noqa: F811
        return a + b

    def vsub(a, b):  # noqa: F811
        return a - b

    def vmul(a, b):  # noqa: F811
        return a * b

    def vdiv(a, b):  # noqa: F811
        return a / b

    def vabs(a):  # noqa: F811
        return np.abs(a)

    def vfloor(a):  # noqa: F811
        return np.floor(a)

    def vneg(a):  # noqa: F811
        return -a

    def vif_lt(a, b, x, y):  # noqa: F811
        return np.where(a < b, x, y)

    def vif_ge(a, b, x, y):  # noqa: F811
        return np.where(a >= b, x, y)

    def vpow2_from_biased(a):  # noqa: F811
        itype, shift = (np.int64, 52) if a.dtype == np.float64 else (np.int32, 23)
        return (a.view(itype) << shift).view(a.dtype)

    def vbroadcast(arr, off, lanes):  # noqa: F811
        return np.full(len(lanes), arr[off], arr.dtype)
