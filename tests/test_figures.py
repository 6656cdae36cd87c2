"""Tests for nbae.figures: every figure writes a valid PNG; bad input leaves nothing behind;
the figures read right (orientation, labels inside the axes, human titles)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nbae import figures as plots
from nbae.figures import common

FONT = (7, 5)
RNG = np.random.default_rng(0)
GLYPHS = (RNG.random((32, 35)) > 0.5).astype(float)
LABELS = ["`"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["{", "|", "}", "~", "DEL"]


def _png(path, min_px=150):
    """Assert ``path`` is a sane PNG alone in its folder (no temp files) and return its size."""
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        w, h = im.size
    assert min_px <= w <= 6000 and min_px <= h <= 6000, (w, h)
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    return w, h


def _history(n, seed=0):
    r = np.random.default_rng(seed)
    epoch = np.arange(1, n + 1)
    loss = 1.0 / np.sqrt(epoch) * np.exp(r.normal(0, 0.2, n))
    return pd.DataFrame({"epoch": epoch, "loss": loss, "seconds": epoch * 1e-3})


# ------------------------------------------------------------------ pure helpers


def test_downsample_short_history_is_unchanged():
    h = _history(50)
    out = plots.downsample_history(h, max_points=100)
    pd.testing.assert_frame_equal(out, h)


def test_downsample_keeps_true_minimum_first_and_last():
    h = _history(150_000)
    h.loc[77_777, "loss"] = 1e-9  # an isolated dip that strided sampling would miss
    out = plots.downsample_history(h, max_points=2000)
    assert len(out) <= 2000
    assert out["loss"].min() == 1e-9
    assert out.loc[77_777, "epoch"] == 77_778
    assert out["epoch"].iloc[0] == 1 and out["epoch"].iloc[-1] == 150_000
    assert out["loss"].max() == h["loss"].max()
    assert out["epoch"].is_monotonic_increasing
    assert list(out.columns) == list(h.columns)


def test_downsample_exact_buckets():
    h = pd.DataFrame({"epoch": np.arange(1, 13),
                      "loss": [5, 3, 9, 1, 2, 8, 7, 4, 6, 0.5, 10, 11.0]})
    out = plots.downsample_history(h, max_points=6)  # 2 buckets of 6 rows: min+max each
    assert out["epoch"].tolist() == [1, 3, 4, 10, 12]  # last row is also bucket 2 max


def test_downsample_drops_nonfinite_and_sorts():
    h = pd.DataFrame({"epoch": [3, 1, 2, 4], "loss": [0.3, np.nan, 0.2, np.inf]})
    out = plots.downsample_history(h)
    assert out["epoch"].tolist() == [2, 3]


def test_downsample_rejects_bad_args():
    with pytest.raises(ValueError, match="column"):
        plots.downsample_history(pd.DataFrame({"epoch": [1]}))
    with pytest.raises(ValueError, match="max_points"):
        plots.downsample_history(_history(10), max_points=3)


def test_level_label():
    assert [common.level_label(v) for v in (0.05, 0.1, 15, 20)] == ["5%", "10%", "15%", "20%"]


# ------------------------------------------------------------------ figures


def test_plot_history_single(tmp_path):
    p = tmp_path / "h.png"
    plots.plot_history({"35-20-10-2": _history(150_000)}, p, "Training error")
    _png(p)


def test_plot_history_many_and_dataframe(tmp_path):
    p = tmp_path / "h.png"
    hs = {f"arch {k}": _history(300 + 50 * k, seed=k) for k in range(7)}
    hs["_private"] = _history(100)
    plots.plot_history(hs, p, "All architectures")
    _png(p)
    q = tmp_path / "sub" / "single.png"
    plots.plot_history(_history(40), q, "one", log=False, mark_min=False)
    _png(q)


def test_plot_latent_map(tmp_path):
    Z = RNG.normal(size=(32, 2))
    p = tmp_path / "latent.png"
    plots.plot_latent_map(Z, LABELS, p, images=GLYPHS, image_shape=FONT)
    _png(p)
    q = tmp_path / "b" / "labels_only.png"
    plots.plot_latent_map(Z, LABELS, q)
    _png(q)


@pytest.mark.slow
def test_plot_reconstructions(tmp_path):
    Xhat = np.clip(GLYPHS + RNG.normal(0, 0.3, GLYPHS.shape), 0, 1)
    p = tmp_path / "rec.png"
    plots.plot_reconstructions(GLYPHS, Xhat, LABELS, FONT, (0, 1), p)
    w, h = _png(p)
    assert h > w  # 4 blocks of 2 rows, 8 columns


def test_plot_reconstructions_bipolar(tmp_path):
    X = GLYPHS[:5] * 2 - 1
    p = tmp_path / "rec.png"
    plots.plot_reconstructions(X, -X, None, FONT, (-1, 1), p, ncols=3)
    _png(p)


def test_plot_transitions(tmp_path):
    t = np.linspace(0, 1, 9)[:, None]
    rows = [("a", "b", (1 - t) * GLYPHS[1] + t * GLYPHS[2]),
            ("x", "DEL", (1 - t) * GLYPHS[24] + t * GLYPHS[31])]
    p = tmp_path / "tr.png"
    plots.plot_transitions(rows, FONT, (0, 1), p)
    _png(p)


def test_plot_latent_grid(tmp_path):
    xs, ys = np.linspace(-2, 2, 6), np.linspace(-1, 1, 4)
    imgs = RNG.random((4, 6, 35))
    p = tmp_path / "grid.png"
    plots.plot_latent_grid(imgs, xs, ys, FONT, (0, 1), p, "Decoded plane")
    _png(p)


def test_plot_image_grid(tmp_path):
    p = tmp_path / "g.png"
    plots.plot_image_grid(GLYPHS[:11], FONT, (0, 1), p, titles=LABELS[:11], ncols=4,
                          suptitle="samples")
    _png(p)
    q = tmp_path / "flowers" / "g.png"
    plots.plot_image_grid(RNG.uniform(-1, 1, (6, 1024)), (32, 32), (-1, 1), q)
    _png(q)


@pytest.mark.slow
def test_plot_denoising(tmp_path):
    clean = GLYPHS[:8]
    by_level = {lv: (np.abs(clean - (RNG.random(clean.shape) < lv)),
                     np.clip(clean + RNG.normal(0, 0.2, clean.shape), 0, 1))
                for lv in (0.05, 0.10, 0.15, 0.20)}
    p = tmp_path / "dn.png"
    plots.plot_denoising(clean, by_level, FONT, (0, 1), p, LABELS[:8])
    _png(p)


def test_plot_noise_curves(tmp_path):
    rows = []
    for m in ("dae", "plain"):
        for lv in (0.05, 0.1, 0.15, 0.2):
            v = lv * (10 if m == "plain" else 4)
            rows.append({"model": m, "level": lv, "mean": v, "std": 0.1,
                         "min": v - 0.2, "max": v + 0.3})
    df = pd.DataFrame(rows)
    p = tmp_path / "n.png"
    plots.plot_noise_curves(df, p, low="min", high="max")
    _png(p)
    q = tmp_path / "s" / "n.png"
    plots.plot_noise_curves(df, q, std="std")
    _png(q)


def test_plot_latent_search(tmp_path):
    df = pd.DataFrame({"latent_dim": [1, 2, 3, 4, 5, 2],
                       "final_loss": [0.3, 0.1, 0.02, 0.01, 0.009, 0.2],
                       "best_loss": [0.2, 0.05, 0.01, 0.008, 0.007, 0.1]})
    p = tmp_path / "ls.png"
    plots.plot_latent_search(df, p, threshold=0.02)
    _png(p)
    q = tmp_path / "n" / "ls.png"
    plots.plot_latent_search(df, q, threshold=1e-6)  # nothing reaches it: no mark
    _png(q)


def test_plot_pairs(tmp_path):
    a, b = RNG.uniform(-1, 1, (5, 1024)), RNG.uniform(-1, 1, (5, 1024))
    p = tmp_path / "pairs.png"
    plots.plot_pairs(a, b, (32, 32), (-1, 1), p, "generated", "nearest photo",
                     captions=[f"d={v:.2f}" for v in range(5)], pairs_per_row=3)
    _png(p)


# ------------------------------------------------------------------ failures leave nothing


BAD_CALLS = {
    "history_missing_column": lambda p: plots.plot_history({"a": pd.DataFrame({"x": [1]})}, p, "t"),
    "history_empty": lambda p: plots.plot_history({}, p, "t"),
    "latent_map_3d": lambda p: plots.plot_latent_map(np.zeros((3, 3)), "abc", p),
    "latent_map_labels": lambda p: plots.plot_latent_map(np.zeros((3, 2)), "ab", p),
    "latent_map_no_shape": lambda p: plots.plot_latent_map(np.zeros((3, 2)), "abc", p,
                                                           images=GLYPHS[:3]),
    "recon_shape": lambda p: plots.plot_reconstructions(GLYPHS, GLYPHS, LABELS, (6, 5),
                                                        (0, 1), p),
    "recon_rows": lambda p: plots.plot_reconstructions(GLYPHS, GLYPHS[:3], LABELS, FONT,
                                                       (0, 1), p),
    "recon_range": lambda p: plots.plot_reconstructions(GLYPHS, GLYPHS, LABELS, FONT,
                                                        (1, 1), p),
    "recon_nan": lambda p: plots.plot_reconstructions(GLYPHS, GLYPHS * np.nan, LABELS, FONT,
                                                      (0, 1), p),
    "transitions_empty": lambda p: plots.plot_transitions([], FONT, (0, 1), p),
    "latent_grid_xs": lambda p: plots.plot_latent_grid(np.zeros((2, 3, 35)), [0, 1], [0, 1],
                                                       FONT, (0, 1), p),
    "image_grid_titles": lambda p: plots.plot_image_grid(GLYPHS, FONT, (0, 1), p, titles="ab"),
    "image_grid_ncols": lambda p: plots.plot_image_grid(GLYPHS, FONT, (0, 1), p, ncols=0),
    "denoise_rows": lambda p: plots.plot_denoising(GLYPHS, {0.1: (GLYPHS, GLYPHS[:2])}, FONT,
                                                   (0, 1), p),
    "noise_band": lambda p: plots.plot_noise_curves(
        pd.DataFrame({"level": [0.1], "model": ["m"], "mean": [1.0]}), p, low="mean"),
    "noise_column": lambda p: plots.plot_noise_curves(pd.DataFrame({"level": [0.1]}), p),
    "search_chosen": lambda p: plots.plot_latent_search(
        pd.DataFrame({"latent_dim": [1], "final_loss": [1.0], "best_loss": [1.0]}), p,
        chosen=7),
    "pairs_rows": lambda p: plots.plot_pairs(GLYPHS, GLYPHS[:4], FONT, (0, 1), p),
    "latent_grid_axes": lambda p: plots.plot_latent_grid(np.zeros((2, 2, 35)), [0, 1], [0, 1],
                                                         FONT, (0, 1), p, axes="pca"),
    "latent_grid_dims": lambda p: plots.plot_latent_grid(np.zeros((2, 2, 35)), [0, 1], [0, 1],
                                                         FONT, (0, 1), p, dims=(0, -1)),
    "latent_grid_nan": lambda p: plots.plot_latent_grid(np.zeros((2, 2, 35)), [0, np.nan],
                                                        [0, 1], FONT, (0, 1), p),
    "noise_y_column": lambda p: plots.plot_noise_curves(
        pd.DataFrame({"level": [0.1], "model": ["m"]}), p, mean="restored"),
    "range_infinite": lambda p: plots.plot_image_grid(GLYPHS, FONT, (0, np.inf), p),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_bad_arguments_raise_and_leave_no_file(tmp_path, name):
    p = tmp_path / "out.png"
    with pytest.raises(ValueError):
        BAD_CALLS[name](p)
    assert list(tmp_path.iterdir()) == []


def test_failure_while_saving_leaves_no_partial_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def boom(self, fname, **kw):
        with open(fname, "wb") as fh:
            fh.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", boom)
    p = tmp_path / "out.png"
    with pytest.raises(OSError, match="disk full"):
        plots.plot_image_grid(GLYPHS[:4], FONT, (0, 1), p)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_failed_rewrite(tmp_path):
    p = tmp_path / "out.png"
    plots.plot_image_grid(GLYPHS[:4], FONT, (0, 1), p)
    before = p.read_bytes()
    with pytest.raises(ValueError):
        plots.plot_image_grid(GLYPHS[:4], FONT, (0, 2, 3), p)
    assert p.read_bytes() == before
    assert [q.name for q in tmp_path.iterdir()] == ["out.png"]


def test_plot_pairs_title_clears_the_column_titles(tmp_path, monkeypatch):
    boxes = {}

    def measure_then_save(fig, path):  # measured while drawn, just before it is written
        renderer = fig.canvas.get_renderer()
        fig.canvas.draw()
        boxes["title"] = fig._suptitle.get_window_extent(renderer)
        boxes["labels_top"] = max(ax.title.get_window_extent(renderer).y1 for ax in fig.axes)
        boxes["fig_top"] = fig.bbox.y1
        save(fig, path)

    save = common.save_figure
    monkeypatch.setattr(common, "save_figure", measure_then_save)
    a = RNG.uniform(-1, 1, (12, 1024))  # the layout of navigate_flowers' generated.png
    plots.plot_pairs(a, a, (32, 32), (-1, 1), tmp_path / "p.png", "generated", "nearest photo",
                     captions=[f"nearest #{i}, rms 0.1" for i in range(12)], title="A title")
    assert boxes["title"].y0 > boxes["labels_top"]  # no overlap with "generated" etc.
    assert boxes["title"].y1 <= boxes["fig_top"]
    _png(tmp_path / "p.png")
