"""Numba kernels: forward pass, backpropagation, optimizer updates and the fused training loop.

Memory layout
-------------
All parameters live in one flat array ``theta``: for weight layer ``l`` the matrix
``W_l`` (shape ``(fan_in, fan_out)``, C order) starts at ``w_off[l]`` and the bias ``b_l`` at
``b_off[l]``. The gradient ``grad`` and the optimizer state (``s1``, ``s2``: momentum buffer,
Adagrad accumulator, or Adam's first and second moments) share that layout, so each optimizer
step is one fused loop over flat arrays.

Activations of a mini-batch of up to ``cap`` rows live in one flat buffer ``buf``: layer ``l``'s
output ``A_l`` (``A_0`` is the input batch) occupies ``cap * sizes[l]`` elements from
``a_off[l]``; a batch of ``B <= cap`` rows uses the first ``B * sizes[l]`` of them, contiguous.

Notation: ``Z_l = A_l W_l + b_l`` and ``A_{l+1} = f_l(Z_l)``. Backpropagation carries
``D = dL/dA_{l+1}``, turns it into ``dL/dZ_l`` in place with the activation's derivative (which
every supported activation can express through its *output*, so ``Z`` is never stored), then
``dL/dW_l = A_l^T D``, ``dL/db_l = sum_rows D`` and ``dL/dA_l = D W_l^T``.

Everything here is compiled with ``cache=True``, so a second process loads machine code from
``__pycache__`` instead of compiling. Kernels are generic in the floating type: float32 arrays
get float32 code.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir as llvm_ir
from numba import config as numba_config
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from nbae.engine.blas import limit_scipy_blas_threads

limit_scipy_blas_threads()

# Integer codes, mirrored from nbae.engine.codes (literals here so Numba treats them as constants).
IDENTITY, TANH, SIGMOID, RELU, LEAKY_RELU, SOFTMAX = 0, 1, 2, 3, 4, 5
MSE, BCE = 0, 1
SGD, ADAGRAD, ADAM = 0, 1, 2
NOISE_NONE, NOISE_FLIP, NOISE_GAUSSIAN, NOISE_MASK = 0, 1, 2, 3
STATUS_OK, STATUS_EARLY_STOP, STATUS_NONFINITE = 0, 1, 2

# Hyperparameter vector layout (``hp``).
HP_LR, HP_MOMENTUM, HP_BETA1, HP_BETA2, HP_EPS, HP_WEIGHT_DECAY = 0, 1, 2, 3, 4, 5
HP_SCRATCH = 6  # two slots the Adam step uses to hold per-step scalars in the parameters' type
HP_SIZE = 8

_JIT = {"cache": True, "nogil": True}
# error_model='numpy' lets divisions vectorise (no ZeroDivisionError checks): ~3x on Adam.
_JIT_NP = {"cache": True, "nogil": True, "error_model": "numpy"}


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


# ---------------------------------------------------------------------------------------------
# random numbers: splitmix64, so that shuffling and noise are reproducible from one state word
# and independent of NumPy's and Numba's global generators.


@njit(**_JIT)
def next_u64(state):
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(**_JIT)
def next_uniform(state):
    """Uniform float64 in [0, 1) with 53 random bits."""
    return np.float64(next_u64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(**_JIT)
def next_normal(state):
    """Standard normal by the Box-Muller transform (one value per call, for simplicity)."""
    u1 = 1.0 - next_uniform(state)  # (0, 1]: log is finite
    u2 = next_uniform(state)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(**_JIT)
def shuffle_inplace(perm, state):
    """Fisher-Yates shuffle of an index array."""
    for i in range(perm.size - 1, 0, -1):
        j = np.int64(next_uniform(state) * (i + 1))
        if j > i:  # guards the (measure-zero) rounding of u * (i + 1) up to i + 1
            j = i
        t = perm[i]
        perm[i] = perm[j]
        perm[j] = t


# ---------------------------------------------------------------------------------------------
# activations

_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two so that k * ln2 is exact (Cody-Waite)
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00


@intrinsic
def _f64_from_bits(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits (a vectorisable bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.DoubleType())
    return types.float64(types.int64), codegen


if numba_config.DISABLE_JIT:
    def _f64_from_bits(bits):  # noqa: F811
        return np.int64(bits).view(np.float64)


@njit(inline="always")
def _pow2(k):
    """2.0 ** k for integer-valued k in [-1022, 1023], built from its exponent bits."""
    return _f64_from_bits((np.int64(k) + 1023) << 52)


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


@njit(**_JIT_NP)
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


@njit(**_JIT_NP)
def sigmoid_inplace(F):
    """Logistic sigmoid in place, within 3 ulp of 1 / (1 + exp(-x)), vectorised.

    With e = exp(-|x|) <= 1 (never overflows): 1 / (1 + e) for x >= 0, e / (1 + e) below.
    """
    for i in range(F.size):
        x = np.float64(F[i])
        e = _exp_nonpositive(-min(abs(x), 745.0))
        d = 1.0 / (1.0 + e)
        F[i] = d if x >= 0 else e * d


@njit(**_JIT_NP)
def activate(Z, code, slope):
    """Apply activation ``code`` to ``Z`` (rows = samples) in place."""
    n, m = Z.shape
    if code == IDENTITY:
        return
    if code == SOFTMAX:
        for i in range(n):
            mx = Z[i, 0]
            for j in range(1, m):
                if Z[i, j] > mx:
                    mx = Z[i, j]
            s = 0.0
            for j in range(m):
                e = np.exp(Z[i, j] - mx)  # shift by the row max: exp never overflows
                Z[i, j] = e
                s += e
            inv = 1.0 / s
            for j in range(m):
                Z[i, j] *= inv
        return
    # one loop per activation (not a branch per element) so that the simple ones vectorise
    if code == TANH:
        tanh_inplace(view1d(Z))
    elif code == SIGMOID:
        sigmoid_inplace(view1d(Z))
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                Z[i, j] = max(Z[i, j], 0.0)
    elif code == LEAKY_RELU:
        for i in range(n):
            for j in range(m):
                z = Z[i, j]
                Z[i, j] = z if z > 0 else slope * z


@njit(**_JIT_NP)
def activation_backward(A, D, code, slope):
    """Turn ``D = dL/dA`` into ``dL/dZ`` in place, given the activation's output ``A``.

    tanh' = 1 - a^2, sigmoid' = a (1 - a), relu' = [a > 0], leaky' = 1 if a > 0 else slope
    (for slope >= 0, a > 0 exactly when z > 0; at z = 0 both use the left branch, like
    PyTorch). Softmax couples a row: dL/dz_i = a_i (d_i - sum_j d_j a_j), its full Jacobian.
    """
    n, m = A.shape
    if code == IDENTITY:
        return
    if code == SOFTMAX:
        for i in range(n):
            dot = 0.0
            for j in range(m):
                dot += D[i, j] * A[i, j]
            for j in range(m):
                D[i, j] = A[i, j] * (D[i, j] - dot)
        return
    if code == TANH:
        for i in range(n):
            for j in range(m):
                D[i, j] *= 1.0 - A[i, j] * A[i, j]
    elif code == SIGMOID:
        for i in range(n):
            for j in range(m):
                D[i, j] *= A[i, j] * (1.0 - A[i, j])
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                if A[i, j] <= 0:
                    D[i, j] = 0.0
    elif code == LEAKY_RELU:
        for i in range(n):
            for j in range(m):
                if A[i, j] <= 0:
                    D[i, j] *= slope


# ---------------------------------------------------------------------------------------------
# losses: the mean over all B * m elements, like torch.nn.MSELoss() / BCELoss()


@njit(**_JIT_NP)
def loss_and_output_grad(A, Y, code, D):
    """Return the mean loss of output ``A`` against target ``Y``; write dL/dA into ``D``.

    MSE: L = mean((a - y)^2), dL/da = 2 (a - y) / N.
    BCE: L = -mean(y log a + (1 - y) log(1 - a)) with each log clamped at -100 and
    dL/da = (a - y) / max(a (1 - a), 1e-12) / N, PyTorch's conventions, so saturated outputs
    give large but finite values.
    """
    n, m = A.shape
    inv_n = 1.0 / (n * m)
    total = 0.0
    for i in range(n):
        for j in range(m):
            a = A[i, j]
            y = Y[i, j]
            if code == MSE:
                r = a - y
                total += r * r
                D[i, j] = 2.0 * r * inv_n
            else:
                la = max(np.log(a), -100.0)
                l1a = max(np.log(1.0 - a), -100.0)
                total -= y * la + (1.0 - y) * l1a
                D[i, j] = (a - y) / max(a * (1.0 - a), 1e-12) * inv_n
    return total * inv_n


@njit(**_JIT)
def loss_value(A, Y, code):
    """Mean loss only (the gradient goes to a scratch array; not on a hot path)."""
    return loss_and_output_grad(A, Y, code, np.empty_like(A))


# ---------------------------------------------------------------------------------------------
# matrix products. BLAS (np.dot into a preallocated output) wins almost everywhere, even on
# 5x35x25 products; the exception is D W^T for small layers, where a row-dot-row loop is ~2x
# faster than the BLAS call's fixed cost.

_SMALL_NT = 4096  # fan_in * fan_out below which matmul_nt uses the loop (measured crossover)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _dot_rows(D, W, out):
    B, fo = D.shape
    fi = W.shape[0]
    for i in range(B):
        for k in range(fi):
            s = D[i, 0] - D[i, 0]
            for j in range(fo):
                s += D[i, j] * W[k, j]
            out[i, k] = s


@njit(**_JIT)
def matmul_nt(D, W, out):
    """out = D @ W.T"""
    if W.shape[0] * W.shape[1] <= _SMALL_NT:
        _dot_rows(D, W, out)
    else:
        np.dot(D, W.T, out)


# ---------------------------------------------------------------------------------------------
# forward and backward passes on the flat buffers


@njit(**_JIT)
def forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, l0, l1):
    """Run weight layers ``l0 .. l1-1`` on the ``B``-row batch at ``A_{l0}`` in ``buf``."""
    for l in range(l0, l1):
        fi = sizes[l]
        fo = sizes[l + 1]
        A = view2d(buf, a_off[l], B, fi)
        O = view2d(buf, a_off[l + 1], B, fo)
        W = view2d(theta, w_off[l], fi, fo)
        b = theta[b_off[l]:b_off[l] + fo]
        np.dot(A, W, O)
        for i in range(B):
            for j in range(fo):
                O[i, j] += b[j]
        activate(O, acts[l], slope)


@njit(**_JIT)
def backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B):
    """Backpropagate ``dL/dA_L`` (in ``d1``) through every layer; fill ``grad``.

    ``d1`` and ``d2`` are ping-pong buffers of ``cap * max(sizes)`` elements.
    """
    L = acts.size
    cur = d1
    nxt = d2
    for l in range(L - 1, -1, -1):
        fi = sizes[l]
        fo = sizes[l + 1]
        D = view2d(cur, 0, B, fo)
        O = view2d(buf, a_off[l + 1], B, fo)
        activation_backward(O, D, acts[l], slope)
        A = view2d(buf, a_off[l], B, fi)
        gW = view2d(grad, w_off[l], fi, fo)
        np.dot(A.T, D, gW)
        gb = grad[b_off[l]:b_off[l] + fo]
        gb[:] = 0.0
        for i in range(B):
            for j in range(fo):
                gb[j] += D[i, j]
        if l > 0:
            W = view2d(theta, w_off[l], fi, fo)
            Dp = view2d(nxt, 0, B, fi)
            matmul_nt(D, W, Dp)
            t = cur
            cur = nxt
            nxt = t


# ---------------------------------------------------------------------------------------------
# optimizers: one fused pass over the flat parameter vector, torch.optim semantics


@njit(**_JIT_NP)
def optimizer_step(theta, grad, s1, s2, opt, hp, t):
    """Apply one update of optimizer ``opt`` at step ``t`` (1-based), in place.

    With g = grad + weight_decay * theta:
    SGD:      v = momentum v + g (v starts as g), theta -= lr v   (plain: theta -= lr g)
    Adagrad:  G += g^2, theta -= lr g / (sqrt(G) + eps)
    Adam:     m += (1 - b1)(g - m), v = b2 v + (1 - b2) g^2,
              theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    A non-finite parameter shows up as a non-finite loss at the next step (or in the
    caller's check after each call), so the loop carries no test of its own and vectorises.
    """
    n = theta.size
    lr = hp[HP_LR]
    wd = hp[HP_WEIGHT_DECAY]
    if opt == SGD:
        mom = hp[HP_MOMENTUM]
        if mom == 0.0:
            for i in range(n):
                g = grad[i] + wd * theta[i]
                theta[i] -= lr * g
        else:
            for i in range(n):
                g = grad[i] + wd * theta[i]
                v = mom * s1[i] + g if t > 1 else g
                s1[i] = v
                theta[i] -= lr * v
    elif opt == ADAGRAD:
        eps = hp[HP_EPS]
        for i in range(n):
            g = grad[i] + wd * theta[i]
            s = s1[i] + g * g
            s1[i] = s
            theta[i] -= lr * g / (np.sqrt(s) + eps)
    else:
        b1 = hp[HP_BETA1]
        b2 = hp[HP_BETA2]
        eps = hp[HP_EPS]
        hp[HP_SCRATCH] = 1.0 - b1
        omb1 = hp[HP_SCRATCH]
        hp[HP_SCRATCH] = 1.0 - b2
        omb2 = hp[HP_SCRATCH]
        # bias corrections in float64 (as PyTorch does on the host), then cast to theta's type
        hp[HP_SCRATCH] = lr / (1.0 - np.float64(b1) ** t)
        step = hp[HP_SCRATCH]
        hp[HP_SCRATCH + 1] = 1.0 / np.sqrt(1.0 - np.float64(b2) ** t)
        inv_bc2 = hp[HP_SCRATCH + 1]
        for i in range(n):
            g = grad[i] + wd * theta[i]
            m = s1[i] + omb1 * (g - s1[i])
            v = b2 * s2[i] + omb2 * g * g
            s1[i] = m
            s2[i] = v
            theta[i] -= step * m / (np.sqrt(v) * inv_bc2 + eps)


# ---------------------------------------------------------------------------------------------
# batch assembly


@njit(**_JIT)
def gather_rows(src, idx, start, B, dst):
    """Copy rows ``src[idx[start:start+B]]`` into the ``B``-row matrix ``dst``."""
    for r in range(B):
        row = idx[start + r]
        for j in range(src.shape[1]):
            dst[r, j] = src[row, j]


@njit(**_JIT)
def corrupt(A, noise, level, lo, hi, state):
    """Corrupt a batch in place: flip (x -> lo + hi - x), gaussian (clipped), or mask (x -> lo)."""
    n, m = A.shape
    for i in range(n):
        for j in range(m):
            if noise == NOISE_FLIP:
                if next_uniform(state) < level:
                    A[i, j] = lo + hi - A[i, j]
            elif noise == NOISE_MASK:
                if next_uniform(state) < level:
                    A[i, j] = lo
            elif noise == NOISE_GAUSSIAN:
                x = A[i, j] + level * next_normal(state)
                A[i, j] = min(max(x, lo), hi)


# ---------------------------------------------------------------------------------------------
# entry points called from Python


@njit(**_JIT)
def loss_and_grad(theta, grad, X, Y, sizes, w_off, b_off, a_off, acts, slope, loss_code,
                  buf, d1, d2):
    """Mean loss over all rows of ``X`` and its gradient in ``grad`` (one full batch)."""
    B = X.shape[0]
    L = acts.size
    A0 = view2d(buf, 0, B, sizes[0])
    A0[:, :] = X
    forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, 0, L)
    out = view2d(buf, a_off[L], B, sizes[L])
    D = view2d(d1, 0, B, sizes[L])
    loss = loss_and_output_grad(out, Y, loss_code, D)
    backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B)
    return loss


@njit(**_JIT)
def predict(theta, X, sizes, w_off, b_off, acts, slope, l0, l1, chunk):
    """Outputs of layers ``l0 .. l1-1`` applied to ``X``, in chunks of ``chunk`` rows."""
    n = X.shape[0]
    out = np.empty((n, sizes[l1]), dtype=theta.dtype)
    widths = sizes[l0:l1 + 1]
    a_off = np.zeros(sizes.size, dtype=np.int64)
    total = 0
    for l in range(l0, l1 + 1):
        a_off[l] = total
        total += chunk * sizes[l]
    buf = np.empty(total, dtype=theta.dtype)
    for start in range(0, n, chunk):
        B = min(chunk, n - start)
        A0 = view2d(buf, a_off[l0], B, widths[0])
        A0[:, :] = X[start:start + B]
        forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, l0, l1)
        out[start:start + B] = view2d(buf, a_off[l1], B, sizes[l1])
    return out


@njit(**_JIT)
def dataset_loss(theta, X, Y, sizes, w_off, b_off, a_off, acts, slope, loss_code, batch, buf,
                 scratch):
    """Mean loss over all rows of ``X``, forward passes of ``batch`` rows in the given buffers."""
    n = X.shape[0]
    L = acts.size
    d_in = sizes[0]
    d_out = sizes[L]
    total = 0.0
    for start in range(0, n, batch):
        B = min(batch, n - start)
        A0 = view2d(buf, 0, B, d_in)
        A0[:, :] = X[start:start + B]
        forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, 0, L)
        out = view2d(buf, a_off[L], B, d_out)
        total += loss_and_output_grad(out, Y[start:start + B], loss_code,
                                      view2d(scratch, 0, B, d_out)) * B
    return total / n


@njit(**_JIT)
def train_epochs(theta, grad, s1, s2, best_theta, X, Y, sizes, w_off, b_off, a_off, acts, slope,
                 loss_code, opt, hp, step, batch, n_epochs, shuffle, perm, rng,
                 noise, noise_level, lo, hi, buf, ybuf, d1, d2, losses, track,
                 epoch0, patience, min_delta, full_loss):
    # full_loss: 0 for the running loss, else the rows per forward pass of the full-set loss
    """Run up to ``n_epochs`` epochs of mini-batch training entirely in compiled code.

    Each epoch optionally shuffles ``perm`` (state kept across calls, so chunked calls give the
    same result as one long call), then for every mini-batch (the last one may be smaller):
    gather rows, optionally corrupt the inputs, forward, loss, backward, optimizer step.
    ``losses[e]`` receives the epoch's loss: with ``full_loss``, the loss of the end-of-epoch
    parameters on the whole training set (one extra forward pass, inputs uncorrupted), else the
    sample-weighted mean of the epoch's mini-batch losses (each taken before its update).

    ``track`` holds the running state [best loss, best epoch, early-stopping reference, epochs
    without improvement]; whenever the epoch loss is a new minimum, ``theta`` is copied into
    ``best_theta``. ``step[0]`` is the optimizer's step counter and ``step[1]`` counts finished
    epochs, so the caller knows how far a call got even if its return value is lost (Ctrl-C
    raises as the call returns).

    Returns (epochs run, status): status 1 = early stop (``patience`` epochs without an
    improvement larger than ``min_delta``), 2 = non-finite loss or parameters (training stops
    before the update that would use the bad value; the caller restores ``best_theta``).
    """
    n = X.shape[0]
    L = acts.size
    d_in = sizes[0]
    d_out = sizes[L]
    for e in range(n_epochs):
        if shuffle:
            shuffle_inplace(perm, rng)
        total = 0.0
        for start in range(0, n, batch):
            B = min(batch, n - start)
            A0 = view2d(buf, 0, B, d_in)
            gather_rows(X, perm, start, B, A0)
            if noise != NOISE_NONE:
                corrupt(A0, noise, noise_level, lo, hi, rng)
            T = view2d(ybuf, 0, B, d_out)
            gather_rows(Y, perm, start, B, T)
            forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, 0, L)
            out = view2d(buf, a_off[L], B, d_out)
            D = view2d(d1, 0, B, d_out)
            bl = loss_and_output_grad(out, T, loss_code, D)
            if not np.isfinite(bl):
                losses[e] = bl
                return e + 1, STATUS_NONFINITE
            total += bl * B
            backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B)
            step[0] += 1
            optimizer_step(theta, grad, s1, s2, opt, hp, step[0])
        loss = total / n
        if full_loss:
            loss = dataset_loss(theta, X, Y, sizes, w_off, b_off, a_off, acts, slope, loss_code,
                                full_loss, buf, d1)
            if not np.isfinite(loss):
                losses[e] = loss
                return e + 1, STATUS_NONFINITE
        losses[e] = loss
        step[1] += 1
        if loss < track[0]:
            track[0] = loss
            track[1] = epoch0 + e + 1
            best_theta[:] = theta
        if loss < track[2] - min_delta:
            track[2] = loss
            track[3] = 0
        else:
            track[3] += 1
            if patience > 0 and track[3] >= patience:
                return e + 1, STATUS_EARLY_STOP
    return n_epochs, STATUS_OK
