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

    def measure_then_save(fig, path):  # the figure is cleared once saved
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


# ------------------------------------------------------------------ the figures read right


@pytest.fixture
def inspect(monkeypatch):
    """``inspect(fn)``: run ``fn(fig, renderer)`` on each finished, drawn figure before it is
    written (figures are cleared once saved); returns the list of results."""

    real = common.save_figure

    def use(fn):
        results = []

        def wrapped(fig, path):
            fig.canvas.draw()
            results.append(fn(fig, fig.canvas.get_renderer()))
            real(fig, path)

        monkeypatch.setattr(common, "save_figure", wrapped)
        return results

    return use


def _inside(box, frame, tol=0.5) -> bool:
    return (box.x0 >= frame.x0 - tol and box.x1 <= frame.x1 + tol
            and box.y0 >= frame.y0 - tol and box.y1 <= frame.y1 + tol)


def _overlap_share(a, b) -> float:
    """Area shared by two boxes, as a share of the smaller one."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / min(a.width * a.height, b.width * b.height)


def _tick_values_upward(ax, axis):
    """Tick label values ordered by display position (left to right, or bottom to top)."""
    if axis == "x":
        pos = [ax.transData.transform((t, 0))[0] for t in ax.get_xticks()]
        labels = ax.get_xticklabels()
    else:
        pos = [ax.transData.transform((0, t))[1] for t in ax.get_yticks()]
        labels = ax.get_yticklabels()
    return [float(lab.get_text()) for _, lab in sorted(zip(pos, labels, strict=True),
                                                       key=lambda pl: pl[0])]


def _grid_tiles(xs, ys):
    """Images whose constant value encodes the (x, y) they were decoded from."""
    rank_x = np.argsort(np.argsort(xs))
    rank_y = np.argsort(np.argsort(ys))
    n = len(xs) * len(ys)
    vals = (rank_y[:, None] * len(xs) + rank_x[None, :] + 0.5) / n
    return np.repeat(vals[..., None], 35, axis=2)


@pytest.mark.parametrize("order", ["descending ys (as nbae.latent.latent_grid)", "ascending ys"])
def test_latent_grid_larger_z2_on_top_like_the_latent_map(tmp_path, inspect, order):
    xs = np.linspace(-2, 2, 5)
    ys = np.linspace(3, -1, 4) if order.startswith("desc") else np.linspace(-1, 3, 4)
    imgs = _grid_tiles(xs, ys)

    def look(fig, r):
        ax = fig.axes[0]
        mosaic = np.asarray(ax.images[0].get_array())
        corner = lambda py, px: mosaic[py, px]  # noqa: E731
        h = mosaic.shape[0]
        w = mosaic.shape[1]
        return dict(x=_tick_values_upward(ax, "x"), y=_tick_values_upward(ax, "y"),
                    top_left=corner(1, 1), top_right=corner(1, w - 2),
                    bottom_left=corner(h - 2, 1), title=ax.get_title(),
                    xlabel=ax.get_xlabel(), ylabel=ax.get_ylabel())

    seen = inspect(look)
    plots.plot_latent_grid(imgs, xs, ys, FONT, (0, 1), tmp_path / "g.png", "Decoded plane")
    _png(tmp_path / "g.png")
    g = seen[0]
    assert g["y"] == sorted(g["y"]) and g["y"][-1] == 3  # z2 grows upwards
    assert g["x"] == sorted(g["x"]) and g["x"][-1] == 2  # z1 grows to the right
    n = 20
    assert g["top_left"] == pytest.approx((3 * 5 + 0 + 0.5) / n)  # largest y, smallest x
    assert g["top_right"] == pytest.approx((3 * 5 + 4 + 0.5) / n)
    assert g["bottom_left"] == pytest.approx(0.5 / n)
    assert g["title"] == "Decoded plane\nswept: latent coordinates z1 and z2"

    def map_axes(fig, r):
        ax = fig.axes[0]
        up = ax.transData.transform((0, 1))[1] > ax.transData.transform((0, 0))[1]
        right = ax.transData.transform((1, 0))[0] > ax.transData.transform((0, 0))[0]
        return dict(up=up, right=right, xlabel=ax.get_xlabel(), ylabel=ax.get_ylabel())

    seen_map = inspect(map_axes)
    plots.plot_latent_map(RNG.normal(size=(4, 2)), "abcd", tmp_path / "m" / "map.png")
    m = seen_map[0]
    assert m["up"] and m["right"]  # the map, too, has z2 up and z1 right
    assert (g["xlabel"], g["ylabel"]) == (m["xlabel"], m["ylabel"])


def test_latent_grid_says_it_swept_principal_axes(tmp_path, inspect):
    seen = inspect(lambda fig, r: (fig.axes[0].get_title(), fig.axes[0].get_xlabel(),
                                   fig.axes[0].get_ylabel()))
    xs = ys = np.linspace(-2, 2, 3)
    plots.plot_latent_grid(RNG.random((3, 3, 1024)), xs, ys, (32, 32), (-1, 1),
                           tmp_path / "g.png", "Flowers decoded around photo #6216",
                           axes="principal", dims=(0, 2))
    title, xlabel, ylabel = seen[0]
    assert title == ("Flowers decoded around photo #6216\n"
                     "swept: principal axes 1 and 3 of the training codes")
    assert xlabel == "principal axis 1 (std of the training codes)"
    assert ylabel == "principal axis 3 (std of the training codes)"
    assert plots.sweep_description("coordinates", (2, 5)) == "latent coordinates z3 and z6"


CROWDED = {
    # four tight clusters of 8 codes, closer together than a thumbnail is wide
    "clusters": np.concatenate([c + np.random.default_rng(1).normal(0, 0.15, (8, 2))
                                for c in ([0, 0], [1, 0.2], [0.3, 1], [-3, -3])]),
    # 32 codes piled on the four corners: every label competes at an edge
    "corners": np.array([[x, y] for x in (-1, 1) for y in (-1, 1)] * 8)
    + np.random.default_rng(2).normal(0, 0.2, (32, 2)),
}


@pytest.mark.parametrize("layout,thumbs", [("clusters", True), ("corners", False)])
def test_latent_map_labels_inside_the_axes_and_apart(tmp_path, inspect, layout, thumbs):
    from matplotlib.text import Text

    Z = CROWDED[layout]

    def look(fig, r):
        ax = fig.axes[0]
        frame = ax.get_window_extent(r)
        labels = [Text.get_window_extent(t, r) for t in ax.texts]  # the text, no arrow
        tiles = [a.get_window_extent(r) for a in ax.artists]
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        scale = (frame.width / (x1 - x0), frame.height / (y1 - y0))
        return dict(frame=frame, labels=labels, tiles=tiles, scale=scale,
                    texts=[t.get_text() for t in ax.texts])

    seen = inspect(look)
    kw = dict(images=GLYPHS, image_shape=FONT) if thumbs else {}
    plots.plot_latent_map(Z, LABELS, tmp_path / "map.png", **kw)
    _png(tmp_path / "map.png")
    s = seen[0]
    assert s["texts"] == LABELS
    assert len(s["tiles"]) == (32 if thumbs else 0)
    outside = [lab for lab, b in zip(LABELS, s["labels"], strict=True)
               if not _inside(b, s["frame"])]
    assert outside == []
    assert all(_inside(b, s["frame"]) for b in s["tiles"])
    worst = max(_overlap_share(a, b) for i, a in enumerate(s["labels"])
                for b in s["labels"][i + 1:])
    assert worst <= 0.02, worst
    assert s["scale"][0] == pytest.approx(s["scale"][1], rel=0.01)  # equal aspect kept


def test_noise_curves_speak_words_not_column_names(tmp_path, inspect):
    from matplotlib.text import Text

    rows = [{"model": m, "level": lv, "restored": r, "restored_min": r - 0.1,
             "restored_max": min(r + 0.05, 1.0)}
            for m, k in (("denoiser", 0.5), ("plain (arch 7)", 2.0))
            for lv in (0.05, 0.1, 0.2) for r in [max(0.0, 1 - k * lv)]]

    def look(fig, r):
        ax = fig.axes[0]
        return dict(texts=[t.get_text() for t in fig.findobj(Text)], title=ax.get_title(),
                    legend=[t.get_text() for t in ax.get_legend().get_texts()],
                    yticks=[t.get_text() for t in ax.get_yticklabels()])

    seen = inspect(look)
    plots.plot_noise_curves(pd.DataFrame(rows), tmp_path / "r.png", mean="restored",
                            low="restored_min", high="restored_max",
                            title="Glyphs restored (\u2264 1 wrong pixel)",
                            band_label="min\u2013max over 20 trials",
                            ylabel="glyphs restored", y_percent=True)
    s = seen[0]
    assert s["title"] == "Glyphs restored (\u2264 1 wrong pixel)"
    assert s["legend"] == ["denoiser", "plain (arch 7)", "min\u2013max over 20 trials"]
    assert not [t for t in s["texts"] if "restored_" in t or ".." in t]
    assert all(t.endswith("%") for t in s["yticks"] if t)
    seen2 = inspect(lambda fig, r: [t.get_text() for t in fig.axes[0].get_legend().get_texts()])
    df = pd.DataFrame(rows).assign(sd=0.02)
    plots.plot_noise_curves(df, tmp_path / "s.png", mean="restored", std="sd")
    assert seen2[0][-1] == "shaded: mean \u00b1 1 std"


def test_format_code():
    assert plots.format_code([6.5, -0.4]) == "(6.50, -0.40)"
    assert plots.format_code(np.array([[0.123456, 2, -3]]), digits=3) == "(0.123, 2.000, -3.000)"


@pytest.mark.parametrize("n", [1, 3])
def test_image_grid_code_titles_fit(tmp_path, inspect, n):
    codes = [[6.5, -0.4], [0.0, 0.0], [-12.25, 3.1]][:n]
    titles = [plots.format_code(z) for z in codes]

    def look(fig, r):
        boxes = [ax.title.get_window_extent(r) for ax in fig.axes if ax.get_visible()]
        return dict(boxes=boxes, sup=fig._suptitle.get_window_extent(r), fig=fig.bbox,
                    texts=[ax.get_title() for ax in fig.axes if ax.get_visible()],
                    suptitle=fig._suptitle.get_text())

    seen = inspect(look)
    plots.plot_image_grid(GLYPHS[:n], FONT, (0, 1), tmp_path / "glyph.png", titles=titles,
                          ncols=min(n, 10), suptitle="Decoded from models/font/model.npz")
    _png(tmp_path / "glyph.png", min_px=60)
    s = seen[0]
    assert s["texts"] == titles and s["suptitle"] == "Decoded from models/font/model.npz"
    assert all(_inside(b, s["fig"]) for b in s["boxes"] + [s["sup"]])
    assert all(_overlap_share(a, b) == 0 for i, a in enumerate(s["boxes"])
               for b in s["boxes"][i + 1:])
