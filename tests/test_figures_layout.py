"""The figures read right (issue 11): the latent grid has z2 up like the latent map, map labels
stay inside the axes and apart, noise curves speak words, decoded images carry their codes.

Each test renders a PNG and inspects the finished, drawn Figure just before it is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_figures import FONT, GLYPHS, LABELS, RNG, _png

from nbae import figures as plots
from nbae.figures import common


@pytest.fixture
def inspect(monkeypatch):
    """``inspect(fn)``: run ``fn(fig, renderer)`` on each finished, drawn figure just before
    it is written; returns the list of results (one per figure)."""
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
