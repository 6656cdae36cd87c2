"""Figures of the latent-space claims (issue 14): glyph territories and confusion vs distance.

Arrays in, PNG files out (see :mod:`nbae.figures.common`); the numbers come from
:mod:`nbae.studies.claims`. Import this module directly (``from nbae.figures import claims``).
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.colors import ListedColormap

from nbae.figures.common import TXT, as_matrix, check_labels, render

__all__ = ["plot_confusion_vs_distance", "plot_territory", "region_colours"]


def region_colours(n: int) -> np.ndarray:
    """``n`` RGB colours for glyph regions: tab20, tab20b and tab20c interleaved so that
    glyphs next to each other in the font do not get similar colours."""
    pool = np.vstack([np.asarray(matplotlib.colormaps[name].colors)[:, :3]
                      for name in ("tab20", "tab20b", "tab20c")])  # 60 colours
    return pool[(np.arange(n) * 7) % len(pool)]  # 7 and 60 coprime: n <= 60 all distinct


def _fmt_p(p) -> str:
    if p is None:
        return "n/a"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def _fmt_r(r) -> str:
    return "n/a" if r is None else f"{r:+.2f}"


def plot_territory(owner, close, box, Z, labels, path, nearest, within, factor: float = 2.0,
                   title: str = "Glyph territories in the latent plane",
                   bar_title: str = "Territory share per glyph") -> None:
    """The latent plane coloured by nearest glyph, with the codes; beside it, the shares.

    Parameters
    ----------
    owner, close : arrays (g, g)
        Nearest glyph index per grid cell (row 0 at the bottom) and whether that cell is
        within the wrong-pixel limit (drawn saturated; other cells pale).
    box : (x0, x1, y0, y1)
        The region the grid covers.
    Z : array (n, 2)
        The clean glyphs' codes, drawn as dots with their labels.
    nearest, within : arrays (seeds, n)
        Shares per seed (nearest glyph; within the limit), drawn as sorted bars of the mean
        with the min-max range over seeds; the fair share 1/n and ``factor``/n as lines.
    """
    owner = np.asarray(owner)
    close = np.asarray(close, dtype=bool)
    Z = as_matrix(Z, "Z")
    n = len(Z)
    labels = check_labels(labels, n, "labels")
    nearest, within = as_matrix(nearest, "nearest"), as_matrix(within, "within")
    if owner.shape != close.shape or owner.ndim != 2:
        raise ValueError(f"owner {owner.shape} and close {close.shape} must be one 2-D grid")
    if nearest.shape[1] != n or within.shape != nearest.shape:
        raise ValueError(f"nearest {nearest.shape} and within {within.shape} must be "
                         f"(seeds, {n})")
    cols = region_colours(n)
    rgb = cols[owner]
    rgb[~close] = 0.35 * rgb[~close] + 0.65  # pale: nearest glyph, but too many wrong pixels
    edge = np.zeros(owner.shape, dtype=bool)
    edge[1:, :] |= owner[1:, :] != owner[:-1, :]
    edge[:, 1:] |= owner[:, 1:] != owner[:, :-1]
    rgb[edge] = 0.25

    mean = nearest.mean(axis=0)
    order = np.argsort(-mean, kind="stable")
    x = np.arange(n)

    def build(fig):
        aspect = (box[1] - box[0]) / (box[3] - box[2])  # the map's width over its height
        ax, bx = fig.subplots(1, 2, width_ratios=[min(max(aspect, 0.6), 1.6), 1.3])
        ax.imshow(rgb, origin="lower", extent=box, interpolation="nearest", aspect="equal")
        ax.scatter(Z[:, 0], Z[:, 1], s=14, color="black", zorder=3)
        for lab, (zx, zy) in zip(labels, Z, strict=True):
            ax.annotate(lab, (zx, zy), xytext=(3, 3), textcoords="offset points", fontsize=9,
                        fontweight="bold", zorder=4, annotation_clip=False,
                        bbox=dict(boxstyle="round,pad=0.12", fc="white", ec="none", alpha=0.75),
                        **TXT)
        ax.set_xlim(box[0], box[1])
        ax.set_ylim(box[2], box[3])
        ax.set_xlabel("z1 (latent unit 1)")
        ax.set_ylabel("z2 (latent unit 2)")
        ax.set_title(title + "\n(pale: nearest glyph but too many wrong pixels)", fontsize=10,
                     **TXT)
        lo, hi = nearest.min(axis=0), nearest.max(axis=0)
        bx.bar(x, mean[order], color=cols[order], edgecolor="0.3", lw=0.5,
               label="nearest glyph (mean)")
        bx.bar(x, within.mean(axis=0)[order], width=0.35, color="0.15",
               label="within the wrong-pixel limit (mean)")
        if len(nearest) > 1:
            yerr = np.clip([mean[order] - lo[order], hi[order] - mean[order]], 0, None)
            bx.errorbar(x, mean[order], yerr=yerr,
                        fmt="none", ecolor="0.3", lw=0.8, capsize=2,
                        label=f"min\u2013max over {len(nearest)} seeds")
        bx.axhline(1.0 / n, color="tab:blue", ls="--", lw=1, label=f"fair share 1/{n}")
        bx.axhline(factor / n, color="tab:red", ls=":", lw=1.2,
                   label=f"attractor threshold {factor:g}/{n}")
        bx.set_xticks(x, [labels[i] for i in order], fontsize=8, **TXT)
        bx.set_xlim(-0.7, n - 0.3)
        bx.set_ylabel("share of the latent region")
        bx.set_title(bar_title, fontsize=10, **TXT)
        bx.legend(fontsize=8, loc="upper right")
        bx.grid(True, axis="y", alpha=0.3)

    render(build, path, figsize=(14.0, 6.8), layout="constrained")


def plot_confusion_vs_distance(panels, path, title: str = "Confusion under noise against "
                               "latent distance (ordered glyph pairs)",
                               annotate: int = 4) -> None:
    """Scatter of latent distance against confusion rate, one panel per model group.

    ``panels`` is a list of dicts with ``name`` (panel title's first line), ``latent``,
    ``confusion``, ``pixel`` (one value per pair), ``pairs`` (a label per pair, e.g.
    ``"n\u2192h"``) and ``stats`` (``rho``, ``p``, ``prho``, ``pp``). The y axis is
    symmetric-log so pairs never confused stay on the plot; points are coloured by pixel
    distance, the confounder, and the ``annotate`` most confused pairs are labelled.
    """
    if not panels:
        raise ValueError("panels must hold at least one group")
    for p in panels:
        m = len(p["pairs"])
        for key in ("latent", "confusion", "pixel"):
            if np.shape(p[key]) != (m,):
                raise ValueError(f"panel {p['name']!r}: {key} must have one value per pair")
    vmax = max(float(np.max(p["pixel"])) for p in panels)
    cmap = ListedColormap(matplotlib.colormaps["viridis"](np.linspace(0, 0.9, 256)))

    def build(fig):
        axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
        sc = None
        for ax, p in zip(axes, panels, strict=True):
            c = np.asarray(p["confusion"], dtype=float)
            pos = c[c > 0]
            thresh = float(pos.min()) if pos.size else 1e-3
            sc = ax.scatter(p["latent"], c, c=p["pixel"], cmap=cmap, vmin=0, vmax=vmax, s=10,
                            alpha=0.75, lw=0)
            ax.set_yscale("symlog", linthresh=thresh, linscale=0.5)
            top = np.argsort(-c, kind="stable")[:annotate]
            if top.size:  # ringed points, listed in the empty upper right corner
                ax.scatter(np.asarray(p["latent"])[top], c[top], s=60, facecolor="none",
                           edgecolor="tab:red", lw=1.0)
                text = "most confused:\n" + "\n".join(
                    f"{p['pairs'][i]}  {c[i]:.2f}" for i in top)
                ax.text(0.97, 0.97, text, transform=ax.transAxes, ha="right", va="top",
                        fontsize=8, color="tab:red", bbox=dict(fc="white", ec="0.7", lw=0.5),
                        **TXT)
            s = p["stats"]
            ax.set_title(f"{p['name']}\nSpearman \u03c1 = {_fmt_r(s.get('rho'))} "
                         f"(p = {_fmt_p(s.get('p'))}); partial | pixels "
                         f"{_fmt_r(s.get('prho'))} (p = {_fmt_p(s.get('pp'))})", fontsize=9,
                         **TXT)
            ax.set_xlabel(p.get("xlabel", "latent distance between the clean codes"))
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel("confusion rate a \u2192 b (symlog)")
        fig.colorbar(sc, ax=list(axes), label="pixel distance between the glyphs", shrink=0.85)
        fig.suptitle(title, **TXT)

    render(build, path, figsize=(6.0 * len(panels) + 1.2, 5.4), layout="constrained")
