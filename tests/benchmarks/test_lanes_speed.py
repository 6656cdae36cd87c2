"""Many models at once: the lanes engine vs the single-model engine and the peers' ensembles.

    pytest tests/benchmarks/test_lanes_speed.py --benchmark-only -s

Workload: the font net (35-25-15-5-2 mirrored, 32 rows, batch 5, Adam), float64 and float32,
``EPOCHS`` epochs per call (long enough that the per-call setup -- about 20 ms of model and
history-frame building -- stays under 2 % of a lanes call). Every benchmark records its
model-steps (models x optimizer steps); after the module the summary prints microseconds per
model-step, each row's speed-up over the single-model engine (``Autoencoder.fit``) of the same
dtype, its matmul rate (6 x batch x weights flops per model-step) and that rate as a fraction
of the machine's vector FMA peak, measured in the same run by ``test_vector_peak`` (one core,
ten independent fma chains of native-width vectors). Peers: PyTorch with stacked weights
(batched matmuls, autograd, Adam on the stacks) and JAX ``vmap`` of a jitted ``lax.scan``
(hand-written Adam); each is skipped when its package is absent.
"""

import math
import time

import numpy as np
import pytest
from numba import njit

from nbae import Autoencoder
from nbae.engine.lanes.simd import native_width, vadd, vfma, vload, vstore, vzero
from nbae.studies.ensemble import fit_many

LAYERS = [35, 25, 15, 5, 2]
N, BATCH = 32, 5
EPOCHS = 400
STEPS_PER_EPOCH = math.ceil(N / BATCH)
CFG = {"layers": LAYERS, "activation": "tanh", "output_activation": "sigmoid",
       "init": "xavier", "optimizer": "adam", "lr": 1e-4, "batch_size": BATCH}
RESULTS = {}  # label -> (dtype, microseconds per model-step)
PEAK = {}  # dtype -> measured one-core vector FMA peak, GFLOP/s


def _data():
    return (np.random.default_rng(0).random((N, LAYERS[0])) > 0.5).astype(np.float64)


def _flops_per_model_step():
    sizes = LAYERS + LAYERS[-2::-1]
    w = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return 6 * BATCH * w  # forward, weight gradient, input gradient: 2 flops per MAC each


def _record(benchmark, label, dtype, model_steps):
    benchmark.extra_info["steps"] = model_steps
    benchmark.extra_info["label"] = label

    def done():
        RESULTS[label] = (dtype, benchmark.stats.stats.median / model_steps * 1e6)
    return done


@njit(nogil=True, error_model="numpy")
def _fma_chains(x, n, lanes):
    """n rounds of 10 independent vector fmas (hides the fma latency on every x86-64 core)."""
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = vzero(x, lanes)
    u = vload(x, 0, lanes)
    v = vload(x, len(lanes), lanes)
    for _ in range(n):
        a0 = vfma(u, v, a0)
        a1 = vfma(u, v, a1)
        a2 = vfma(u, v, a2)
        a3 = vfma(u, v, a3)
        a4 = vfma(u, v, a4)
        a5 = vfma(u, v, a5)
        a6 = vfma(u, v, a6)
        a7 = vfma(u, v, a7)
        a8 = vfma(u, v, a8)
        a9 = vfma(u, v, a9)
    s = vadd(vadd(vadd(a0, a1), vadd(a2, a3)), vadd(vadd(a4, a5), vadd(vadd(a6, a7),
                                                                        vadd(a8, a9))))
    vstore(x, 0, s)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vector_peak(benchmark, dtype):
    benchmark.group = "lanes-font"
    W = native_width(dtype)
    x = np.full(2 * W, 1e-9, dtype)
    n = 2_000_000
    benchmark.pedantic(_fma_chains, args=(x, n, (0,) * W), rounds=10, warmup_rounds=2)
    PEAK[dtype] = n * 10 * W * 2 / benchmark.stats.stats.min / 1e9


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_single_model_engine(benchmark, dtype):
    benchmark.group = "lanes-font"
    X = _data()
    ae = Autoencoder(**{k: CFG[k] for k in ("layers", "activation", "output_activation",
                                            "init")}, dtype=dtype)
    steps = EPOCHS * STEPS_PER_EPOCH
    finish = _record(benchmark, f"single-model {dtype}", dtype, steps)
    benchmark.pedantic(lambda: ae.fit(X, epochs=EPOCHS, batch_size=BATCH, lr=1e-4,
                                      restore_best=False), rounds=5, warmup_rounds=1)
    finish()


@pytest.mark.parametrize("cores", [1, 2])
@pytest.mark.parametrize("models", [1, 8, 16, 64])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lanes(benchmark, dtype, models, cores):
    if cores == 2 and models < 64:
        pytest.skip("two cores are measured on 64 models")
    benchmark.group = "lanes-font"
    X = _data()
    seeds = list(range(models))
    steps = models * EPOCHS * STEPS_PER_EPOCH
    finish = _record(benchmark, f"lanes K={models} {cores} core(s) {dtype}", dtype, steps)
    benchmark.pedantic(lambda: fit_many({**CFG, "dtype": dtype}, X, seeds=seeds, epochs=EPOCHS,
                                        restore_best=False, n_jobs=cores, progress=False),
                       rounds=3, warmup_rounds=1)
    finish()


@pytest.mark.parametrize("models", [64])
def test_pytorch_stacked_ensemble(benchmark, models):
    """K models as stacked (K, fan_in, fan_out) weights: batched matmuls, Adam on the stack."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    benchmark.group = "lanes-font"
    sizes = LAYERS + LAYERS[-2::-1]
    Ws = [torch.nn.Parameter(torch.randn(models, a, b) * 0.1) for a, b in
          zip(sizes[:-1], sizes[1:], strict=True)]
    bs = [torch.nn.Parameter(torch.zeros(models, 1, b)) for b in sizes[1:]]
    opt = torch.optim.Adam(Ws + bs, lr=1e-4)
    X = torch.from_numpy(_data().astype(np.float32))
    latent = len(LAYERS) - 2
    epochs = EPOCHS // 20  # ~100x slower per model-step than the lanes engine

    def run():
        for _ in range(epochs):
            perm = torch.randperm(N)
            for s in range(0, N, BATCH):
                xb = X[perm[s:s + BATCH]].expand(models, -1, -1)
                a = xb
                for l, (W, b) in enumerate(zip(Ws, bs, strict=True)):
                    z = torch.baddbmm(b, a, W)
                    a = z if l == latent else (torch.sigmoid(z) if l == len(Ws) - 1
                                               else torch.tanh(z))
                opt.zero_grad()
                ((a - xb) ** 2).mean(dim=(1, 2)).sum().backward()
                opt.step()

    finish = _record(benchmark, f"pytorch stacked K={models} float32", "float32",
                     models * epochs * STEPS_PER_EPOCH)
    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    finish()


@pytest.mark.parametrize("models", [64])
def test_jax_vmap_ensemble(benchmark, models):
    """K models by ``jax.vmap`` over a jitted ``lax.scan`` of Adam steps (float32)."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    benchmark.group = "lanes-font"
    sizes = LAYERS + LAYERS[-2::-1]
    latent = len(LAYERS) - 2
    batches = N // BATCH  # whole batches only: lax.scan needs one shape
    rng = np.random.default_rng(0)
    order = np.stack([rng.permutation(N)[:batches * BATCH] for _ in range(EPOCHS)])
    xb = jnp.asarray(_data().astype(np.float32)[order.reshape(-1, BATCH)])

    def init(key):
        keys = jax.random.split(key, len(sizes) - 1)
        return [(jax.random.normal(k, (a, b), jnp.float32) * 0.1, jnp.zeros(b, jnp.float32))
                for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)]

    def loss(params, x):
        a = x
        for l, (W, b) in enumerate(params):
            z = a @ W + b
            a = z if l == latent else (jax.nn.sigmoid(z) if l == len(params) - 1
                                       else jnp.tanh(z))
        return jnp.mean((a - x) ** 2)

    def step(state, x):
        params, m, v, t = state
        g = jax.grad(loss)(params, x)
        t = t + 1.0
        m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
        lr = 1e-4 * jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        params = jax.tree_util.tree_map(lambda p, m, v: p - lr * m / (jnp.sqrt(v) + 1e-8),
                                        params, m, v)
        return (params, m, v, t), None

    def train(params):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        (params, _, _, _), _ = jax.lax.scan(step, (params, zeros, zeros, 0.0), xb)
        return params

    params = jax.vmap(init)(jax.random.split(jax.random.PRNGKey(0), models))
    fit = jax.jit(jax.vmap(train))
    finish = _record(benchmark, f"jax vmap K={models} float32", "float32",
                     models * EPOCHS * batches)
    benchmark.pedantic(lambda: jax.block_until_ready(fit(params)), rounds=3, warmup_rounds=1)
    finish()


@pytest.fixture(scope="module", autouse=True)
def _print_lanes_ratios():
    """After the module: the summary table (visible with -s)."""
    yield
    if not RESULTS:
        return
    base = {dt: us for label, (dt, us) in RESULTS.items() if label.startswith("single")}
    gflop = _flops_per_model_step() / 1e3  # flops per model-step / 1e3 = GFLOP/s at 1 us
    print(f"\n{time.strftime('%Y-%m-%d %H:%M')}  font net, Adam, {EPOCHS} epochs: microseconds "
          "per model-step (median round), speed-up over the single-model engine of the same "
          "dtype, matmul GFLOP/s and its share of the measured one-core vector peak")
    for dt, peak in PEAK.items():
        print(f"  vector fma peak, one core, {dt}: {peak:.1f} GFLOP/s "
              f"({native_width(dt)} lanes per register)")
    for label, (dt, us) in sorted(RESULTS.items(), key=lambda kv: (kv[1][0], -kv[1][1])):
        ratio = base[dt] / us if dt in base else float("nan")
        share = f"{gflop / us / PEAK[dt]:5.0%}" if dt in PEAK else "  n/a"
        print(f"  {label:36s} {us:8.2f} us  {ratio:6.2f}x  {gflop / us:6.1f} GFLOP/s {share}")
    for dt in ("float64", "float32"):
        one = RESULTS.get(f"lanes K=64 1 core(s) {dt}")
        two = RESULTS.get(f"lanes K=64 2 core(s) {dt}")
        if one and two:
            print(f"  two cores vs one, K=64 {dt}: {one[1] / two[1]:.2f}x")
    peers = [us for label, (dt, us) in RESULTS.items() if label.startswith(("pytorch", "jax"))]
    lanes32 = RESULTS.get("lanes K=64 1 core(s) float32")
    if peers and lanes32:
        print(f"  lanes K=64 float32 (one core) vs the best peer ensemble: "
              f"{min(peers) / lanes32[1]:.1f}x")
