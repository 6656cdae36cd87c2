"""The lanes engine (nbae.ensemble, nbae.lanes_kernels): exactness, determinism, API.

Bit-for-bit claims are asserted with ``np.array_equal`` on the weights; accuracy claims
against PyTorch (float64) and the single-model engine with tolerances.
"""

import hashlib
import itertools
import re

import numpy as np
import pandas as pd
import pytest
from numba import njit
from scipy.special import expit

from nbae import Autoencoder
from nbae.data.font import font_matrix, read_font
from nbae.engine.ensemble import fit_reproducible, run_balanced
from nbae.engine.lanes import kernels as lk
from nbae.engine.lanes import math as lm
from nbae.engine.lanes.math32 import activation_block
from nbae.engine.model import TrainingDiverged
from nbae.studies.ensemble import fit_many

FONT_NET = {"layers": [35, 25, 15, 5, 2], "activation": "tanh", "output_activation": "sigmoid",
            "init": "xavier", "loss": "mse", "optimizer": "adam", "lr": 1e-3, "batch_size": 5}
SMALL = {"layers": [35, 12, 2], "activation": "tanh", "output_activation": "sigmoid",
         "init": "xavier", "batch_size": 5}


@pytest.fixture(scope="module")
def font():
    return font_matrix(read_font("data/font.h", "Font3"))


def _params(ae):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in
                           zip(ae.weights, ae.biases, strict=True)])


def _same_bits(a, b):
    return np.array_equal(_params(a).view(np.uint8), _params(b).view(np.uint8))


# -- arithmetic -----------------------------------------------------------------------------


def test_own_log_within_one_ulp_of_numpy():
    x = np.concatenate([np.geomspace(5e-324, 1e308, 200001), np.linspace(0.5, 2, 100001),
                        [1.0, 2.0]])
    y = x.copy()
    lm.log_inplace(y)
    expect = np.log(x)
    ulps = np.abs(y - expect) / np.spacing(np.maximum(np.abs(expect), 1e-300))
    assert ulps.max() <= 1.0
    z = np.array([0.0, np.inf, np.nan])
    lm.log_inplace(z)
    assert z[0] == -np.inf and z[1] == np.inf and np.isnan(z[2])


def test_own_tanh_and_sigmoid_within_two_and_three_ulp():
    x = np.concatenate([np.linspace(-30, 30, 200001), np.geomspace(1e-300, 1e-3, 1000),
                        -np.geomspace(1e-12, 0.7, 1000), [0.0, 0.625, -0.625, 20.0, 1e308]])
    y = x.copy()
    lm.tanh_lanes(y)
    expect = np.tanh(x)
    assert (np.abs(y - expect) / np.spacing(np.maximum(np.abs(expect), 1e-300))).max() <= 2
    assert np.signbit(y).tolist() == np.signbit(expect).tolist()
    x = np.concatenate([np.linspace(-800, 800, 400001), np.linspace(-40, 40, 400001),
                        [0.0, -0.0, 745.0, -745.0, -1e308, 1e308]])
    y = x.copy()
    lm.sigmoid_lanes(y)
    with np.errstate(over="ignore", invalid="ignore"):
        expect = np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))
    assert (np.abs(y - expect) / np.spacing(np.maximum(np.abs(expect), 5e-324))).max() <= 3


@njit(cache=True)
def _tanh32(F, lanes):
    activation_block(F, 0, F.size, 1, lanes)


@njit(cache=True)
def _sigmoid32(F, lanes):
    activation_block(F, 0, F.size, 2, lanes)


def _ulps32(y, exact):
    tiny = np.float32(1.4e-45)
    return np.abs(y.astype(np.float64) - exact) / np.spacing(
        np.maximum(np.abs(exact), tiny).astype(np.float32)).astype(np.float64)


def test_float32_tanh_and_sigmoid_within_two_and_three_ulp_and_width_free():
    """float32 lanes use their own float32 vector code: accurate, same bits for every W."""
    x = np.concatenate([np.linspace(-120, 120, 240000), np.geomspace(1e-30, 1e3, 20000),
                        -np.geomspace(1e-30, 1e3, 20000),
                        [0.0, -0.0, 0.625, -0.625, 9.0, 104.0, -104.0, 3e38, -3e38]])
    x = x[:x.size // 16 * 16].astype(np.float32)
    exact_t = np.tanh(x.astype(np.float64))
    exact_s = expit(x.astype(np.float64))
    outs = {}
    for W in (1, 8, 16):
        t, s = x.copy(), x.copy()
        _tanh32(t, (0,) * W)
        _sigmoid32(s, (0,) * W)
        outs[W] = (t, s)
    t, s = outs[8]
    assert _ulps32(t, exact_t).max() <= 2
    assert _ulps32(s, exact_s).max() <= 3
    assert np.signbit(t).tolist() == np.signbit(exact_t).tolist()
    for W in (1, 16):
        assert np.array_equal(outs[W][0].view(np.uint32), t.view(np.uint32))
        assert np.array_equal(outs[W][1].view(np.uint32), s.view(np.uint32))


@pytest.mark.slow  # two fresh compiles (~5 s): cached machine code cannot be inspected
def test_fma_only_where_written():
    """Numba without fastmath lets LLVM fuse nothing: the only FMAs are the explicit ones."""
    fwd = njit(lk.dense_forward.py_func)  # fresh compiles (cached code cannot be inspected)
    opt = njit(lk.optimizer_lanes.py_func)
    lanes = (0,) * 4
    fwd(np.ones(40), 0, 2, 16, 2, np.ones(24), 0, 16, 2, lanes)
    opt(np.ones(12), np.ones(12), np.ones(12), np.ones(12), 0, np.full((lk.HP_SIZE, 4), 0.5), 2,
        lanes)
    fwd_asm = fwd.inspect_asm(fwd.signatures[0])
    opt_asm = opt.inspect_asm(opt.signatures[0])
    if not re.search(r"vfmadd", fwd_asm):
        pytest.skip("CPU without FMA: llvm.fma is a libm call here")
    assert not re.search(r"vfn?m(add|sub)", opt_asm)  # SGD's v = mu v + g stays mul + add


# -- equivalence ----------------------------------------------------------------------------

torch_optims = {
    "sgd": lambda p, lr, mom, wd: __import__("torch").optim.SGD(p, lr=lr, momentum=mom,
                                                                weight_decay=wd),
    "adagrad": lambda p, lr, mom, wd: __import__("torch").optim.Adagrad(p, lr=lr,
                                                                        weight_decay=wd),
    "adam": lambda p, lr, mom, wd: __import__("torch").optim.Adam(p, lr=lr, weight_decay=wd),
}


def _torch_losses(ae, X, epochs, batch, optimizer, lr, momentum, loss, wd):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)  # tiny products: threads only contend (50x slower on 2 busy cores)
    acts = {"tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "identity": torch.nn.Identity,
            "relu": torch.nn.ReLU, "softmax": lambda: torch.nn.Softmax(dim=1)}
    mods = []
    for W, b, name in zip(ae.weights, ae.biases, ae.activations, strict=True):
        lin = torch.nn.Linear(*W.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        mods += [lin, acts[name]()]
    net = torch.nn.Sequential(*mods)
    opt = torch_optims[optimizer](net.parameters(), lr, momentum, wd)
    crit = torch.nn.MSELoss() if loss == "mse" else torch.nn.BCELoss()
    Xt = torch.from_numpy(X)
    out = []
    for _ in range(epochs):
        total = 0.0
        for s in range(0, len(X), batch):
            opt.zero_grad()
            value = crit(net(Xt[s:s + batch]), Xt[s:s + batch])
            value.backward()
            opt.step()
            total += value.item() * len(Xt[s:s + batch])
        out.append(total / len(X))
    lins = [m for m in net if isinstance(m, torch.nn.Linear)]
    return np.array(out), [m.weight.detach().numpy().T for m in lins]


@pytest.mark.parametrize("optimizer,lrs,momentum,loss,out", [
    ("sgd", [0.3, 0.1, 0.05], 0.9, "mse", "sigmoid"),
    ("adagrad", [0.05, 0.02, 0.01], 0.0, "bce", "sigmoid"),
    ("adam", [3e-3, 1e-3, 5e-3], 0.0, "mse", "softmax"),
])
def test_every_lane_matches_pytorch(font, optimizer, lrs, momentum, loss, out):
    cfg = {**SMALL, "optimizer": optimizer, "momentum": momentum, "loss": loss,
           "output_activation": out}
    X = font / font.sum(1, keepdims=True) if out == "softmax" else font
    epochs = 40  # 7 steps an epoch: 280 optimizer steps
    wds = [0.0, 0.0, 1e-2]  # the last lane also has weight decay
    over = [{"seed": j, "lr": lr, "weight_decay": wd} for j, (lr, wd) in
            enumerate(zip(lrs, wds, strict=True))]
    models, hist = fit_many(cfg, X, overrides=over, epochs=epochs, shuffle=False,
                            restore_best=False)
    for j, (lr, wd) in enumerate(zip(lrs, wds, strict=True)):
        start = Autoencoder(**{k: cfg[k] for k in ("layers", "activation", "output_activation",
                                                   "init", "loss")}, seed=j)
        losses, weights = _torch_losses(start, X, epochs, 5, optimizer, lr, momentum, loss,
                                        wd)
        np.testing.assert_allclose(hist[hist.model == j].loss, losses, rtol=1e-9, atol=1e-12)
        for ours, theirs in zip(models[j].weights, weights, strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("epoch_loss", ["running", "full"])
def test_reproducible_fit_tracks_the_blas_fit(font, epoch_loss):
    """Same init, shuffles and noise draws as Autoencoder.fit: only rounding differs."""
    kw = {"epochs": 30, "lr": 2e-3, "input_noise": {"kind": "flip", "level": 0.1},
          "epoch_loss": epoch_loss}
    a = Autoencoder(**{k: SMALL[k] for k in ("layers", "activation", "init")}, seed=3)
    b = Autoencoder(**{k: SMALL[k] for k in ("layers", "activation", "init")}, seed=3)
    ha = a.fit(font, **kw)
    hb = fit_reproducible(b, font, **kw)
    assert list(hb.columns) == list(ha.columns)
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=1e-10)
    np.testing.assert_allclose(_params(b), _params(a), rtol=1e-9, atol=1e-12)
    assert b.training["epochs_run"] == 30 and b.training["engine"] == "lanes"
    assert b._fits == a._fits == 1


# -- determinism ----------------------------------------------------------------------------

RUN = {"epochs": 12, "lr": 0.02, "input_noise": {"kind": "flip", "level": 0.05},
       "patience": 4, "min_delta": 1e-3}


def test_lane_bits_do_not_depend_on_the_group(font):
    seeds = [0, 1, 2, 3, 4]
    solo = []
    for s in seeds:
        ae = Autoencoder(**{k: SMALL[k] for k in ("layers", "activation", "init")}, seed=s)
        fit_reproducible(ae, font, **RUN)
        solo.append(ae)
    for size in (4, 8):  # two groups (one padded), one group
        models, hist = fit_many(SMALL, font, seeds=seeds, group_size=size, **RUN)
        for ae, ref in zip(models, solo, strict=True):
            assert _same_bits(ae, ref)
            np.testing.assert_array_equal(ae.history.loss, ref.history.loss)
            assert ae.training["stop_reason"] == ref.training["stop_reason"]
    assert {m.training["stop_reason"] for m in models} <= {"completed", "early_stop"}


def test_perturbing_one_lane_changes_no_other(font):
    base = [{"seed": j, "lr": 0.01} for j in range(8)]
    hot = [dict(o) for o in base]
    hot[5]["lr"] = 1e4  # lane 5 diverges
    cfg = {**SMALL, "output_activation": "identity"}  # unbounded outputs can overflow
    a, _ = fit_many(cfg, font, overrides=base, epochs=10, optimizer="sgd")
    b, hist = fit_many(cfg, font, overrides=hot, epochs=10, optimizer="sgd")
    for j in range(8):
        assert _same_bits(a[j], b[j]) == (j != 5)
    assert b[5].training["stop_reason"] == "diverged"
    assert np.isfinite(_params(b[5])).all()
    assert hist.groupby("model").epoch.max().tolist() == [10] * 5 + [
        b[5].training["epochs_run"]] + [10] * 2


def test_threads_give_the_serial_bits(font):
    seeds = list(range(12))
    a, ha = fit_many(SMALL, font, seeds=seeds, group_size=4, n_jobs=1, **RUN)
    b, hb = fit_many(SMALL, font, seeds=seeds, group_size=4, n_jobs=3, **RUN)
    assert all(_same_bits(x, y) for x, y in zip(a, b, strict=True))
    pd.testing.assert_frame_equal(ha, hb)


def test_sliced_two_thread_schedule_gives_the_serial_bits(font):
    # 3 groups on 2 threads, 60 epochs: the chunks are cut into slices of epochs that the
    # threads take in turns (run_balanced); lanes stopping early leave their group sooner
    seeds = list(range(10))
    run = {**RUN, "epochs": 60, "patience": 3}
    a, ha = fit_many(SMALL, font, seeds=seeds, group_size=4, n_jobs=1, **run)
    b, hb = fit_many(SMALL, font, seeds=seeds, group_size=4, n_jobs=2, **run)
    assert all(_same_bits(x, y) for x, y in zip(a, b, strict=True))
    pd.testing.assert_frame_equal(ha, hb)
    assert {m.training["stop_reason"] for m in b} >= {"early_stop"}


def test_run_balanced_runs_each_group_in_order_and_stops_groups_that_end():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    calls, lock = [], threading.Lock()

    def run_group(g, epochs, epoch0):
        with lock:
            calls.append((g, epochs, epoch0))
        if g == 2:
            return min(epochs, max(0, 7 - epoch0))  # group 2's lanes all stop at epoch 7
        if g == 3:
            raise RuntimeError("group 3 failed")
        return epochs

    with ThreadPoolExecutor(2) as pool:
        ran = run_balanced(pool, 2, 3, 40, 100, run_group, threading.Event())
        assert ran == [40, 40, 0]
        # epochs of a group run in order, back to back from epoch 100, in slices of 5
        for g in range(2):
            mine = [c for c in calls if c[0] == g]
            assert [c[2] for c in mine] == list(range(100, 140, 5))
            assert all(c[1] == 5 for c in mine)
        assert [c for c in calls if c[0] == 2] == [(2, 5, 100)]  # ran 0 of 5: the group ends
        calls.clear()
        ran = run_balanced(pool, 2, 3, 40, 0, run_group, threading.Event())
        assert ran == [40, 40, 7]
        assert [c[2] for c in calls if c[0] == 2] == [0, 5]  # ran 2 of 5: it ended
        with pytest.raises(RuntimeError, match="group 3 failed"):
            run_balanced(pool, 2, 4, 8, 0, run_group, threading.Event())
        halt = threading.Event()
        halt.set()
        assert run_balanced(pool, 2, 3, 8, 0, run_group, halt) == [0, 0, 0]


def test_diverged_single_model_raises_with_best_weights_kept(font):
    ae = Autoencoder(**{k: SMALL[k] for k in ("layers", "activation", "init")}, seed=0,
                     output_activation="identity")
    with pytest.raises(TrainingDiverged):
        fit_reproducible(ae, font, epochs=20, optimizer="sgd", lr=1e4)
    assert ae.training["stop_reason"] == "diverged" and np.isfinite(_params(ae)).all()


# golden sha256 of the weights of seeds 0 and 1 after 5 shuffled epochs on the font: the same
# on every x86-64 machine (regenerate only for an intended change of the arithmetic)
GOLDEN = {
    ("sgd", "float64"):
        "164cab19e9f2d18d73b86d367733ab7b57484587f4b94148a50a185f3d958c6f",
    ("sgd", "float32"):
        "fd2d2459bb4f63ea3ae20b4c59b8305095c5bf4fbf404447568d5611cfbae4ee",
    ("adagrad", "float64"):
        "53ce5f962b058632c9cf4e8019bc46e1c80181ad9a2cd85338de80696df0d64d",
    ("adagrad", "float32"):
        "b4cf1a9a5573597e8c363ea884d4ed83f42a08a093ae1ed607a81473ced8bbdd",
    ("adam", "float64"):
        "ccbf8df1b7278c18e4908611f59703b37438dbd77ce946070776fffd927537dc",
    ("adam", "float32"):
        "b10f85aa0a924da64c0906a36481d7a4917b1754bdbac92ee84b3720215e131f",
}


@pytest.mark.parametrize("optimizer,dtype", list(GOLDEN))
def test_golden_weights(font, optimizer, dtype):
    lr = {"sgd": 0.1, "adagrad": 0.02, "adam": 2e-3}[optimizer]
    models, _ = fit_many({**FONT_NET, "dtype": dtype, "optimizer": optimizer, "lr": lr,
                          "momentum": 0.9 if optimizer == "sgd" else 0.0}, font,
                         seeds=[0, 1], epochs=5, restore_best=False)
    digest = hashlib.sha256(b"".join(_params(m).astype(dtype).tobytes() for m in models))
    assert models[0].dtype == np.dtype(dtype)
    assert digest.hexdigest() == GOLDEN[(optimizer, dtype)]


# -- API ------------------------------------------------------------------------------------


def test_fit_many_history_and_metrics(font):
    calls = []

    def metric(ae):
        calls.append(ae.seed)
        return {"mean_out": float(ae.reconstruct(font).mean())}

    models, hist = fit_many(SMALL, font, seeds=[7, 9], epochs=6, metric=metric, metric_every=3)
    assert list(hist.columns) == ["model", "seed", "epoch", "loss", "mean_out"]
    assert len(hist) == 12 and hist.seed.tolist() == [7] * 6 + [9] * 6
    assert hist.mean_out.notna().sum() == 4  # epochs 3 and 6 of both models
    assert sorted(calls) == [7, 7, 9, 9]
    assert [m.seed for m in models] == [7, 9] and models[0].history is not None


def test_fit_many_takes_a_params_yaml_architecture(font):
    import yaml

    with open("config/font.yaml", encoding="utf-8") as f:
        cfg = yaml.safe_load(f)["architectures"]["7"]  # bce, Adam with eps 1e-4
    models, hist = fit_many(cfg, font, seeds=[0, 1], epochs=3)
    assert [m.training["eps"] for m in models] == [1e-4, 1e-4]
    assert models[0].loss_name == "bce" and models[0].sizes == [35, 25, 15, 5, 2, 5, 15, 25, 35]
    assert hist.groupby("model").size().tolist() == [3, 3] and hist.loss.notna().all()


def test_interrupt_keeps_what_finished(font):
    def metric(ae):
        if len(seen) == 2:
            raise KeyboardInterrupt  # as if Ctrl-C arrived between two chunks
        seen.append(1)
        return 0.0

    seen = []
    with pytest.raises(KeyboardInterrupt) as info:
        fit_many(SMALL, font, seeds=[0, 1], epochs=50, metric=metric, metric_every=4)
    models, histories = info.value.models, info.value.histories
    assert [len(h) for h in histories] == [8, 8]
    assert all(m.training["stop_reason"] == "interrupted" for m in models)
    assert all(np.isfinite(_params(m)).all() for m in models)


def test_callback_stops_a_reproducible_fit(font):
    ae = Autoencoder(**{k: SMALL[k] for k in ("layers", "activation", "init")}, seed=0)
    hist = fit_reproducible(ae, font, epochs=100, callback=lambda m, h: len(h) >= 6,
                            callback_every=3)
    assert len(hist) == 6 and ae.training["stop_reason"] == "callback"


@pytest.mark.parametrize("kwargs,match", [
    ({"overrides": [{"batch_size": 3}]}, "cannot differ"),
    ({"seeds": [1, 2], "overrides": [{}]}, "overrides has 1"),
    ({"seeds": []}, "no models"),
    ({"seeds": [0], "bogus": 1}, "unknown training"),
    ({"seeds": [0], "lr": -1}, "model 0: lr"),
])
def test_fit_many_rejects_bad_arguments(font, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_many(SMALL, font, **kwargs)


def test_autoencoder_fit_reproducible_is_the_lane_arithmetic(font):
    """``Autoencoder.fit(reproducible=True)`` gives the bits of the model's lane in fit_many."""
    cfg = {"layers": [35, 10, 2], "activation": "tanh", "output_activation": "sigmoid",
           "loss": "bce", "init": "xavier", "optimizer": "adam", "lr": 0.01, "batch_size": 5}
    models, _ = fit_many(cfg, font, seeds=[3, 4], epochs=4)
    ae = Autoencoder(cfg["layers"], activation="tanh", output_activation="sigmoid", loss="bce",
                     init="xavier", seed=4)
    history = ae.fit(font, epochs=4, batch_size=5, optimizer="adam", lr=0.01,
                     reproducible=True)
    assert list(history["epoch"]) == [1, 2, 3, 4]
    for w, w_lane in zip(ae.weights, models[1].weights, strict=True):
        assert w.tobytes() == w_lane.tobytes()


def test_aligned_zeros_rows_start_on_64_byte_boundaries():
    from nbae.engine.lanes.simd import aligned_zeros

    for dtype in (np.float64, np.float32):
        for rows, n in [(1, 5), (3, 21360), (2, 7)]:
            a = aligned_zeros(rows, n, dtype)
            assert a.shape == (rows, n) and a.dtype == dtype and not a.any()
            for g in range(rows):
                assert a[g].ctypes.data % 64 == 0 and a[g].flags.c_contiguous


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_model_column_vectors_equal_a_lane_of_a_group(dtype):
    """W = 1 vectorises over output columns (Y row-major) or, transposed, over output rows
    (Y with contiguous inner index: D W^T): every output is still the same fma chain."""
    from nbae.engine.lanes.products import lane_product

    rng = np.random.default_rng(0)
    shapes = [(5, 25, 35), (2, 25, 35), (35, 25, 5), (5, 2, 5), (1, 3, 4), (3, 17, 9),
              (20, 50, 33), (13, 7, 40), (4, 24, 3), (9, 100, 64), (21, 37, 2),
              (20, 50, 150), (12, 100, 130)]  # the last two: packed blocks of 64 rows of Y
    for (R, C, T), yt_major in itertools.product(shapes, (True, False)):
        X = rng.standard_normal(R * T + 3).astype(dtype)
        Y = rng.standard_normal(T * C + 3).astype(dtype)
        yt, yc = (C, 1) if yt_major else (1, T)  # Y[t, c] at 2 + t * yt + c * yc
        O = np.zeros(R * C + 5, dtype)
        lane_product(X, 1, T, 1, Y, 2, yt, yc, O, 3, C, 1, R, C, T, (0,))
        W = 4
        O4 = np.zeros(O.size * W, dtype)
        lane_product(np.repeat(X, W), W, T * W, W, np.repeat(Y, W), 2 * W, yt * W, yc * W, O4,
                     3 * W, C * W, W, R, C, T, (0,) * W)
        assert np.array_equal(O.view(np.uint8), O4[::W].copy().view(np.uint8))
        Ym = Y[2:2 + T * C].reshape(T, C) if yt_major else Y[2:2 + T * C].reshape(C, T).T
        assert np.abs(O[3:3 + R * C].reshape(R, C) - X[1:1 + R * T].reshape(R, T).astype(
            np.float64) @ Ym).max() < (1e-12 if dtype == np.float64 else 1e-4)
        assert not O[:3].any() and not O[3 + R * C:].any()  # nothing written outside O


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer,kw", [("adam", {"weight_decay": 1e-3}),
                                          ("sgd", {"momentum": 0.9}), ("adagrad", {})])
def test_one_model_fused_update_equals_its_lane_in_a_group(dtype, optimizer, kw):
    """Alone, a model updates each layer right after its backward step, in blocks of rows
    (``lanes.solo``); in a group, after the whole backward pass. Wide layers (several update
    blocks, 4 x 3 product tiles, odd widths for the vector tails) must give the same bits."""
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (23, 301)).astype(dtype)
    cfg = {"layers": [301, 45, 7], "activation": "tanh", "output_activation": "sigmoid",
           "init": "xavier", "optimizer": optimizer, "lr": 0.01, "batch_size": 10,
           "dtype": np.dtype(dtype).name, **kw}
    group, _ = fit_many(cfg, X, seeds=[5, 6, 7], group_size=4, epochs=3, restore_best=False)
    ae = Autoencoder(cfg["layers"], activation="tanh", output_activation="sigmoid",
                     init="xavier", seed=6, dtype=np.dtype(dtype).name)
    ae.fit(X, epochs=3, batch_size=10, optimizer=optimizer, lr=0.01, restore_best=False,
           reproducible=True, **kw)
    assert ae.training["steps"] == 9
    assert _same_bits(ae, group[1])
    assert not _same_bits(ae, group[0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_one_model_on_two_threads_gives_the_one_thread_bits(dtype):
    """``threads=2`` splits the large layers' columns, rows and update blocks over two
    threads (Numba prange): each number is still computed once, in the same order."""
    from nbae.engine.lanes.solo import _PASS_SPLIT, _SPLIT

    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, (31, 301)).astype(dtype)

    def fit(threads, act="tanh", out="sigmoid", **kw):
        ae = Autoencoder([301, 120, 7], activation=act, output_activation=out,
                         init="xavier", seed=8, dtype=dtype)
        try:
            ae.fit(X, batch_size=10, reproducible=True, threads=threads, **kw)
        except TrainingDiverged:
            pass
        return ae

    # the first and last layers' products, and the per-epoch passes (inf/NaN check, best
    # weights, the whole-set loss of epoch_loss="full") are split
    assert 10 * 301 * 120 >= _SPLIT and fit(1, epochs=0).n_params >= _PASS_SPLIT
    for kw in ({"epochs": 3, "lr": 0.01, "restore_best": False},
               {"epochs": 4, "lr": 0.01, "epoch_loss": "full"},
               {"epochs": 4, "lr": 10.0, "optimizer": "sgd", "act": "relu",
                "out": "identity"}):  # diverges in epoch 2: epoch 1's weights kept
        models = [fit(threads, **kw) for threads in (1, 2)]
        assert _same_bits(*models)
        pd.testing.assert_frame_equal(models[0].history, models[1].history)
        assert models[0].training["stop_reason"] == models[1].training["stop_reason"]
    assert models[1].training["stop_reason"] == "diverged"
    with pytest.raises(ValueError, match="threads applies to reproducible=True"):
        models[0].fit(X, epochs=1, threads=2)
    with pytest.raises(ValueError, match="threads"):
        models[0].fit(X, epochs=1, reproducible=True, threads=0)
