"""VAE step vs autoencoder step of the same widths (goal: the VAE costs at most 1.3x).

    pytest tests/benchmarks/test_vae_speed.py --benchmark-only --benchmark-json=vae.json
    python tests/benchmarks/ratios.py vae.json

Both models train the same data with Adam for the same epochs, so the rounds compare per
optimizer step; groups are ``vae-font`` and ``vae-flower``. The workloads are those of
``test_speed.py``. Compilation is kept out of the timings by warm-up rounds.
"""

import pytest
from test_speed import WORKLOADS, _data, _model, _steps

from nbae.engine.vae import VAE


def _vae(name, dtype):
    layers = WORKLOADS[name][0]
    # test_speed's autoencoder: same widths, activations, loss (mse) and initialisation
    out = "sigmoid" if name == "font" else "tanh"
    return VAE(layers, activation="tanh", output_activation=out, loss="mse", init="xavier",
               seed=0, dtype=dtype)


def _run(benchmark, model, name):
    X = _data(name)
    batch, epochs = WORKLOADS[name][2], WORKLOADS[name][3]
    benchmark.group = f"vae-{name}"
    benchmark.extra_info["steps"] = _steps(name, epochs)
    benchmark.pedantic(lambda: model.fit(X, epochs=epochs, batch_size=batch, lr=1e-4,
                                         restore_best=False),
                       rounds=9, warmup_rounds=1)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_autoencoder_step(benchmark, name, dtype):
    _run(benchmark, _model(name, dtype), name)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_vae_step(benchmark, name, dtype):
    _run(benchmark, _vae(name, dtype), name)
