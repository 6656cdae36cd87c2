"""The fused training loop against the NumPy reference, and its training-control features."""

import numpy as np
import pytest
import reference as ref

from nbae import Autoencoder
from nbae.engine.model import TrainingDiverged


def _glyph_like(n=13, d=10, seed=0):
    return (np.random.default_rng(seed).random((n, d)) > 0.5).astype(np.float64)


def _copy_params(ae):
    return [w.copy() for w in ae.weights], [b.copy() for b in ae.biases]


@pytest.mark.parametrize("optimizer,lr,momentum", [("sgd", 0.5, 0.0), ("sgd", 0.1, 0.9),
                                                   ("adagrad", 0.05, 0.0), ("adam", 0.01, 0.0)])
def test_epochs_match_reference(optimizer, lr, momentum):
    # 13 samples in batches of 5: the last batch has 3 rows and must be used
    X = _glyph_like()
    ae = Autoencoder([10, 6, 2], activation="tanh", output_activation="sigmoid", seed=1,
                     init="xavier")
    Ws, bs = _copy_params(ae)
    hist = ae.fit(X, epochs=20, batch_size=5, optimizer=optimizer, lr=lr, momentum=momentum,
                  shuffle=False, restore_best=False)
    ref_hist = ref.train(Ws, bs, ae.activations, "mse", X, X, 20, 5, optimizer, lr, momentum)
    np.testing.assert_allclose(hist["loss"].to_numpy(), ref_hist, rtol=1e-10)
    for w, rw in zip(ae.weights, Ws, strict=True):
        np.testing.assert_allclose(w, rw, rtol=1e-9, atol=1e-12)
    for b, rb in zip(ae.biases, bs, strict=True):
        np.testing.assert_allclose(b, rb, rtol=1e-9, atol=1e-12)
    assert ae.training["steps"] == 20 * 3


def test_one_step_each_optimizer_float32_close_to_float64():
    X = _glyph_like()
    out = {}
    for dtype in ("float64", "float32"):
        ae = Autoencoder([10, 6, 2], seed=2, dtype=dtype)
        ae.fit(X, epochs=3, batch_size=4, optimizer="adam", lr=1e-2, shuffle=False)
        out[dtype] = ae.get_params()
        assert ae.get_params().dtype == np.dtype(dtype)
    np.testing.assert_allclose(out["float32"], out["float64"], rtol=1e-3, atol=1e-5)


def test_same_seed_is_bit_identical_and_chunking_invisible():
    X = _glyph_like(20)
    runs = []
    for _ in range(2):
        ae = Autoencoder([10, 8, 3], seed=7)
        h = ae.fit(X, epochs=300, batch_size=3, optimizer="adam", lr=1e-2,
                   input_noise={"kind": "flip", "level": 0.1})
        runs.append((ae.get_params(), h["loss"].to_numpy()))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert np.array_equal(runs[0][1], runs[1][1])
    # a callback every 7 epochs splits the loop into many kernel calls: same result
    ae = Autoencoder([10, 8, 3], seed=7)
    h = ae.fit(X, epochs=300, batch_size=3, optimizer="adam", lr=1e-2,
               input_noise={"kind": "flip", "level": 0.1},
               callback=lambda model, hist: False, callback_every=7)
    assert np.array_equal(ae.get_params(), runs[0][0])
    assert np.array_equal(h["loss"].to_numpy(), runs[0][1])
    other = Autoencoder([10, 8, 3], seed=8)
    other.fit(X, epochs=300, batch_size=3, optimizer="adam", lr=1e-2)
    assert not np.array_equal(other.get_params(), runs[0][0])


def test_shuffle_changes_order_but_not_the_sample_set():
    X = _glyph_like(20)
    a = Autoencoder([10, 4, 2], seed=0)
    b = Autoencoder([10, 4, 2], seed=0)
    ha = a.fit(X, epochs=1, batch_size=20, optimizer="sgd", lr=0.1, shuffle=True)
    hb = b.fit(X, epochs=1, batch_size=20, optimizer="sgd", lr=0.1, shuffle=False)
    # one full batch: order does not matter up to summation order
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-12)
    np.testing.assert_allclose(a.get_params(), b.get_params(), rtol=1e-10, atol=1e-13)


def test_restore_best_keeps_lowest_epoch_weights():
    X = _glyph_like()
    ae = Autoencoder([10, 6, 2], seed=3)
    # a too-large SGD step makes the loss oscillate, so the last epoch is not the best one
    h = ae.fit(X, epochs=40, batch_size=13, optimizer="sgd", lr=30.0, shuffle=False)
    best = int(h["loss"].idxmin()) + 1
    assert ae.training["best_epoch"] == best
    assert ae.training["best_loss"] == pytest.approx(h["loss"].min())
    # the restored weights are those at the end of the best epoch: replay to that epoch
    replay = Autoencoder([10, 6, 2], seed=3)
    replay.fit(X, epochs=best, batch_size=13, optimizer="sgd", lr=30.0, shuffle=False,
               restore_best=False)
    np.testing.assert_array_equal(ae.get_params(), replay.get_params())


def test_early_stopping():
    X = _glyph_like()
    ae = Autoencoder([10, 6, 2], seed=3)
    h = ae.fit(X, epochs=5000, batch_size=13, optimizer="sgd", lr=1e-9, patience=5,
               min_delta=1e-3)
    # epoch 1 improves on +inf; epochs 2..6 are the five without a real improvement
    assert len(h) == 6
    assert ae.training["stop_reason"] == "early_stop"


def test_divergence_raises_and_restores_finite_weights():
    X = _glyph_like() * 1e3
    ae = Autoencoder([10, 6, 2], activation="relu", output_activation="identity",
                     init="he", seed=0)
    with pytest.raises(TrainingDiverged, match="NaN/inf"):
        ae.fit(X, epochs=200, batch_size=5, optimizer="sgd", lr=10.0)
    assert np.all(np.isfinite(ae.get_params()))
    assert ae.training["stop_reason"] == "diverged"


def test_metric_and_callback_columns():
    X = _glyph_like()
    ae = Autoencoder([10, 6, 2], seed=0)
    seen = []

    def metric(model):
        return {"max_wrong": float(np.abs(model.reconstruct(X).round() - X).sum(1).max())}

    def stop_at_30(model, hist):
        seen.append(len(hist))
        return len(hist) >= 30

    h = ae.fit(X, epochs=100, batch_size=5, metric=metric, metric_every=10,
               callback=stop_at_30, callback_every=15)
    assert seen == [15, 30]
    assert len(h) == 30
    assert h["max_wrong"].notna().sum() == 3  # epochs 10, 20, 30
    assert list(h.loc[h["max_wrong"].notna(), "epoch"]) == [10, 20, 30]
    assert ae.training["stop_reason"] == "callback"


def test_input_noise_corrupts_inputs_only():
    X = _glyph_like(30)
    clean = Autoencoder([10, 6, 3], seed=0)
    noisy = Autoencoder([10, 6, 3], seed=0)
    hc = clean.fit(X, epochs=50, batch_size=5, lr=1e-2)
    hn = noisy.fit(X, epochs=50, batch_size=5, lr=1e-2, input_noise={"kind": "mask",
                                                                       "level": 0.3})
    assert not np.array_equal(hc["loss"], hn["loss"])
    zero = Autoencoder([10, 6, 3], seed=0)
    hz = zero.fit(X, epochs=50, batch_size=5, lr=1e-2, input_noise={"kind": "gaussian",
                                                                      "level": 0.0})
    np.testing.assert_array_equal(hz["loss"], hc["loss"])


def test_training_reduces_loss_on_the_font_scale_problem():
    X = _glyph_like(32, 35, seed=4)
    ae = Autoencoder([35, 20, 10, 2], seed=0, init="xavier")
    h = ae.fit(X, epochs=400, batch_size=5, optimizer="adam", lr=5e-3)
    assert h["loss"].iloc[-1] < 0.5 * h["loss"].iloc[0]


def test_interrupt_keeps_history_and_best_weights():
    X = _glyph_like()
    ae = Autoencoder([10, 6, 2], seed=0)

    def interrupt(model, hist):
        if len(hist) >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ae.fit(X, epochs=100, batch_size=5, callback=interrupt, callback_every=10)
    assert len(ae.history) == 20
    assert ae.training["stop_reason"] == "interrupted"
    assert ae.training["epochs_run"] == 20
    assert 1 <= ae.training["best_epoch"] <= 20
    assert ae.training["best_loss"] == pytest.approx(ae.history["loss"].min())


def test_full_epoch_loss_is_the_loss_of_the_kept_weights():
    X = _glyph_like(23)
    ae = Autoencoder([10, 6, 2], seed=1)
    h = ae.fit(X, epochs=30, batch_size=4, lr=0.05, epoch_loss="full")
    assert ae.training["best_loss"] == pytest.approx(ae.loss(X), rel=1e-12)
    # every epoch's value is the whole-set loss of that epoch's end weights: replay epoch 7
    replay = Autoencoder([10, 6, 2], seed=1)
    replay.fit(X, epochs=7, batch_size=4, lr=0.05, restore_best=False)
    assert h["loss"].iloc[6] == pytest.approx(replay.loss(X), rel=1e-12)
    # the extra evaluation does not change the training trajectory
    running = Autoencoder([10, 6, 2], seed=1)
    running.fit(X, epochs=30, batch_size=4, lr=0.05, restore_best=False)
    again = Autoencoder([10, 6, 2], seed=1)
    again.fit(X, epochs=30, batch_size=4, lr=0.05, restore_best=False, epoch_loss="full")
    np.testing.assert_array_equal(running.get_params(), again.get_params())
    with pytest.raises(ValueError, match="epoch_loss must be 'running' or 'full'"):
        ae.fit(X, epochs=1, epoch_loss="exact")


def test_refit_after_load_continues_like_the_original(tmp_path):
    X = _glyph_like(20)
    ae = Autoencoder([10, 6, 2], seed=5)
    ae.fit(X, epochs=20, batch_size=3)
    ae.save(tmp_path / "m.npz")
    copy = Autoencoder.load(tmp_path / "m.npz")
    ae.fit(X, epochs=20, batch_size=3)
    copy.fit(X, epochs=20, batch_size=3)
    np.testing.assert_array_equal(copy.get_params(), ae.get_params())


def _blas_counts():
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.mark.parametrize("env,inside", [(None, 1), ("1", 1), ("0", 2), ("many", 2)])
def test_blas_threads_limited_only_inside_kernel_calls(monkeypatch, env, inside):
    from threadpoolctl import threadpool_limits

    from nbae.engine import kernels

    if env is None:
        monkeypatch.delenv("NBAE_BLAS_THREADS", raising=False)
    else:
        monkeypatch.setenv("NBAE_BLAS_THREADS", env)
    seen = {}

    def spy(name):
        original = getattr(kernels, name)

        def wrapper(*args):
            seen.setdefault(name, []).append(_blas_counts())
            return original(*args)
        monkeypatch.setattr(kernels, name, wrapper)

    for name in ("train_epochs", "predict", "loss_and_grad"):
        spy(name)
    X = _glyph_like()
    ae = Autoencoder([10, 6, 2], seed=0)
    outside = []
    with threadpool_limits(2, user_api="blas"):
        ae.fit(X, epochs=3, callback=lambda m, h: outside.append(_blas_counts()),
               callback_every=1)
        ae.encode(X)
        ae.gradients(X)
        after = _blas_counts()
    assert after and set(after) == {2}
    assert outside and all(set(c) == {2} for c in outside)  # callbacks run unrestricted
    assert sorted(seen) == ["loss_and_grad", "predict", "train_epochs"]
    assert all(set(c) == {inside} for calls in seen.values() for c in calls)


def test_importing_the_kernels_leaves_blas_threads_alone():
    import subprocess
    import sys

    code = ("from threadpoolctl import threadpool_info, threadpool_limits\n"
            "import scipy.linalg.cython_blas\n"
            "threadpool_limits(2, user_api='blas')\n"
            "import nbae.engine.kernels\n"
            "print(sorted({i['num_threads'] for i in threadpool_info()"
            " if i['user_api'] == 'blas'}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[2]"


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    import io
    import sys

    X = _glyph_like()
    Autoencoder([10, 6, 2]).fit(X, epochs=5, progress=True)
    assert capsys.readouterr().err == ""  # pytest's stderr is no terminal: silent

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    Autoencoder([10, 6, 2]).fit(X, epochs=5, progress=True)
    text = term.getvalue()
    assert "5/5" in text and "epoch" in text and "loss" in text


def test_per_call_stream_is_the_spawned_child():
    # fit() builds the k-th call's stream as SeedSequence(seed, spawn_key=(1 + k,)); results
    # depend on that being exactly SeedSequence(seed).spawn(2 + k)[-1]
    for seed in (0, 5, 2**40 + 3):
        for k in (0, 1, 9):
            a = np.random.SeedSequence(seed).spawn(2 + k)[-1]
            b = np.random.SeedSequence(seed, spawn_key=(1 + k,))
            assert np.array_equal(a.generate_state(2, dtype=np.uint64),
                                  b.generate_state(2, dtype=np.uint64))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_divergence_in_the_first_epoch_keeps_the_initial_weights(dtype, tmp_path):
    """Issue 16: SGD with lr 1e10 blows up in epoch 1; the model must hold its initial,
    finite weights (as the message says), also after a save/load round trip."""
    from nbae import Autoencoder
    from nbae.errors import TrainingDiverged

    rng = np.random.default_rng(0)
    X = rng.random((16, 6))
    ae = Autoencoder([6, 4, 2], activation="identity", output_activation="identity",
                     loss="mse", seed=1, dtype=dtype)
    before = [w.copy() for w in ae.weights]
    with pytest.raises(TrainingDiverged, match="initial weights kept"):
        ae.fit(X, epochs=5, optimizer="sgd", lr=1e10, batch_size=1)
    for w, w0 in zip(ae.weights, before, strict=True):
        np.testing.assert_array_equal(w, w0)
    assert np.isfinite(ae.loss(X))
    ae.save(tmp_path / "m.npz")
    assert np.all(np.isfinite(Autoencoder.load(tmp_path / "m.npz").encode(X)))
