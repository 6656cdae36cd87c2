"""Training-speed benchmarks: nbae (float64, float32) vs the NumPy reference vs PyTorch.

Run with ``pytest tests/benchmarks --benchmark-only``; ``python tests/benchmarks/ratios.py``
prints steps/second ratios from a ``--benchmark-json`` file. Each benchmark trains whole epochs
and records its optimizer step count in ``extra_info["steps"]``, so results compare per step.
Compilation is kept out of the timings by warm-up rounds.
"""

import math

import numpy as np
import pytest
import reference as ref

from nbae import Autoencoder

WORKLOADS = {
    # name: (encoder layers, samples, batch, epochs per round for nbae, for the slow peers)
    "font": ([35, 25, 15, 5, 2], 32, 5, 300, 15),
    "flower": ([1024, 512, 256, 64, 6], 24, 20, 10, 4),
}


def _data(name):
    layers, n, _, _, _ = WORKLOADS[name]
    rng = np.random.default_rng(0)
    if name == "font":
        return (rng.random((n, layers[0])) > 0.5).astype(np.float64)
    return rng.uniform(-1, 1, (n, layers[0]))


def _model(name, dtype="float64"):
    layers = WORKLOADS[name][0]
    out = "sigmoid" if name == "font" else "tanh"
    return Autoencoder(layers, activation="tanh", output_activation=out, init="xavier", seed=0,
                       dtype=dtype)


def _steps(name, epochs):
    _, n, batch, _, _ = WORKLOADS[name]
    return epochs * math.ceil(n / batch)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_nbae(benchmark, name, dtype):
    benchmark.group = name
    X = _data(name)
    ae = _model(name, dtype)
    batch, epochs = WORKLOADS[name][2], WORKLOADS[name][3]
    benchmark.extra_info["steps"] = _steps(name, epochs)
    benchmark.pedantic(lambda: ae.fit(X, epochs=epochs, batch_size=batch, lr=1e-4,
                                      restore_best=False),
                       rounds=7, warmup_rounds=1)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_numpy_reference(benchmark, name):
    benchmark.group = name
    X = _data(name)
    ae = _model(name)
    batch, epochs = WORKLOADS[name][2], WORKLOADS[name][4]
    benchmark.extra_info["steps"] = _steps(name, epochs)

    def run():
        Ws = [w.copy() for w in ae.weights]
        bs = [b.copy() for b in ae.biases]
        ref.train(Ws, bs, ae.activations, "mse", X, X, epochs, batch, "adam", 1e-4)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


def pytorch_run(torch, name):
    """A function training PyTorch (float32, one thread) ``WORKLOADS[name][4]`` epochs of
    ``name``, with the same widths, activations, loss and optimizer as nbae's."""
    torch.set_num_threads(1)
    layers = WORKLOADS[name][0]
    sizes = layers + layers[-2::-1]
    mods = []
    for l in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[l], sizes[l + 1]))
        last = l == len(sizes) - 2
        latent = l == len(layers) - 2
        if latent:
            continue
        mods.append(torch.nn.Sigmoid() if last and name == "font" else torch.nn.Tanh())
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    crit = torch.nn.MSELoss()
    X = torch.from_numpy(_data(name).astype(np.float32))
    batch, epochs = WORKLOADS[name][2], WORKLOADS[name][4]

    def run():
        for _ in range(epochs):
            perm = torch.randperm(len(X))
            for start in range(0, len(X), batch):
                xb = X[perm[start:start + batch]]
                opt.zero_grad()
                crit(net(xb), xb).backward()
                opt.step()
    return run


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_pytorch_float32(benchmark, name):
    torch = pytest.importorskip("torch")
    benchmark.group = name
    benchmark.extra_info["steps"] = _steps(name, WORKLOADS[name][4])
    benchmark.pedantic(pytorch_run(torch, name), rounds=5, warmup_rounds=1)


# --- private Numba internals vs public API ----------------------------------------------------
# The kernels' view2d/view1d are intrinsics over numba.np.arrayobj (not public API). This pair
# times training with them against a copy of the kernels whose views are the public
# ``flat[a:b].reshape(rows, cols)``, side by side in one run:
#   pytest tests/benchmarks/test_speed.py -k views --benchmark-only --benchmark-group-by=param:name


def _public_view_kernels(root):
    """Import a copy of nbae.engine.kernels (under ``root``) with slice-and-reshape views."""
    import importlib
    import sys
    from pathlib import Path

    from nbae.engine import kernels

    name = "nbae_public_views"
    if name in sys.modules:
        return sys.modules[name]
    dst = Path(root) / name
    dst.mkdir(parents=True, exist_ok=True)
    for src in Path(kernels.__file__).parent.glob("*.py"):
        text = src.read_text().replace("nbae.engine.kernels.", name + ".")
        if src.name == "intrinsics.py":
            text += (
                "\n\n@njit(inline='always')\n"
                "def view2d(flat, offset, rows, cols):  # noqa: F811\n"
                "    return flat[offset:offset + rows * cols].reshape(rows, cols)\n"
                "\n\n@njit(inline='always')\n"
                "def view1d(arr):  # noqa: F811\n"
                "    return arr.reshape(arr.size)\n")
        (dst / src.name).write_text(text)
    sys.path.insert(0, str(root))
    return importlib.import_module(name)


@pytest.mark.parametrize("views", ["intrinsic", "public"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_views(benchmark, tmp_path_factory, name, dtype, views):
    benchmark.group = f"views {name} {dtype}"
    X = _data(name)
    ae = _model(name, dtype)
    if views == "public":
        mod = _public_view_kernels(tmp_path_factory.getbasetemp() / "public_views")
        ae._kernels = lambda: mod  # the instance uses the copy
    batch, epochs = WORKLOADS[name][2], WORKLOADS[name][3]
    benchmark.extra_info["steps"] = _steps(name, epochs)
    benchmark.pedantic(lambda: ae.fit(X, epochs=epochs, batch_size=batch, lr=1e-4,
                                      restore_best=False),
                       rounds=7, warmup_rounds=1)
