"""Many models at once: the lanes engine vs the single-model engine (and a PyTorch ensemble).

    pytest tests/benchmarks/test_lanes_speed.py --benchmark-only -s

The workload is the font net (35-25-15-5-2 mirrored, 32 rows, batch 5, Adam, float64 and
float32). Every benchmark records its model-steps (models x optimizer steps) in
``extra_info["steps"]``; after the last one the module prints microseconds per model-step
and each row's speed-up over the single-model engine (``Autoencoder.fit``) of the same
dtype, all measured in this one run. ``cores``: threads running lane groups side by side.
"""

import math

import numpy as np
import pytest

from nbae import Autoencoder
from nbae.studies.ensemble import fit_many

LAYERS = [35, 25, 15, 5, 2]
N, BATCH = 32, 5
EPOCHS = 100
CFG = {"layers": LAYERS, "activation": "tanh", "output_activation": "sigmoid",
       "init": "xavier", "optimizer": "adam", "lr": 1e-4, "batch_size": BATCH}
RESULTS = {}  # label -> (dtype, microseconds per model-step)


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


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_single_model_engine(benchmark, dtype):
    benchmark.group = "lanes-font"
    X = _data()
    ae = Autoencoder(**{k: CFG[k] for k in ("layers", "activation", "output_activation",
                                            "init")}, dtype=dtype)
    steps = EPOCHS * math.ceil(N / BATCH)
    finish = _record(benchmark, f"single-model {dtype}", dtype, steps)
    benchmark.pedantic(lambda: ae.fit(X, epochs=EPOCHS, batch_size=BATCH, lr=1e-4,
                                      restore_best=False), rounds=5, warmup_rounds=1)
    finish()


@pytest.mark.parametrize("cores", [1, 2])
@pytest.mark.parametrize("models", [1, 8, 16, 64])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lanes(benchmark, dtype, models, cores):
    if cores == 2 and models < 16:
        pytest.skip("one lane group: nothing to share")
    benchmark.group = "lanes-font"
    X = _data()
    seeds = list(range(models))
    steps = models * EPOCHS * math.ceil(N / BATCH)
    finish = _record(benchmark, f"lanes K={models} {cores} core(s) {dtype}", dtype, steps)
    benchmark.pedantic(lambda: fit_many({**CFG, "dtype": dtype}, X, seeds=seeds, epochs=EPOCHS,
                                        restore_best=False, n_jobs=cores, progress=False),
                       rounds=3, warmup_rounds=1)
    finish()


@pytest.mark.parametrize("models", [16, 64])
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

    def run():
        for _ in range(EPOCHS):
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

    steps = models * EPOCHS * math.ceil(N / BATCH)
    finish = _record(benchmark, f"pytorch stacked K={models} float32", "float32", steps)
    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    finish()


@pytest.fixture(scope="module", autouse=True)
def _print_lanes_ratios():
    """After the module: the summary table (visible with -s)."""
    yield
    if not RESULTS:
        return
    base = {dt: us for label, (dt, us) in RESULTS.items() if label.startswith("single")}
    gflop = _flops_per_model_step() / 1e3  # flops per model-step / 1e3 = GFLOP/s at 1 us
    print("\nfont net, Adam: microseconds per model-step (median round), speed-up over the "
          "single-model engine of the same dtype, matmul GFLOP/s")
    for label, (dt, us) in sorted(RESULTS.items(), key=lambda kv: (kv[1][0], -kv[1][1])):
        ratio = base[dt] / us if dt in base else float("nan")
        print(f"  {label:36s} {us:8.2f} us  {ratio:6.2f}x  {gflop / us:6.1f} GFLOP/s")
    for dt in ("float64", "float32"):
        one = RESULTS.get(f"lanes K=64 1 core(s) {dt}")
        two = RESULTS.get(f"lanes K=64 2 core(s) {dt}")
        if one and two:
            print(f"  two cores vs one, K=64 {dt}: {one[1] / two[1]:.2f}x")
