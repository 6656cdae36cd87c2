"""The original study's claims about the font's 2-D latent space, measured (issue 14).

Claim 1, "attractor letters": some glyphs own a larger area of the latent plane. A glyph's
*territory* is the share of a bounded region (the glyph codes' bounding box plus a margin)
whose decoding is that glyph, on a ``grid_n x grid_n`` grid of cell centres: (a) *nearest*,
the glyph at the smallest Hamming distance from the binarised decoding, and (b) *within*,
the nearest glyph when it is at most ``max_wrong`` pixels away (other cells are "none").
Hamming ties are split: a cell (or a noisy trial) at the same distance from k glyphs gives
1/k to each, so shares are deterministic and independent of glyph order.

Claim 2, "nearer letters are more confused under noise": noisy glyph A (flip noise, ``trials``
copies per level, the same noise for every model) is confused with B != A when its
reconstruction is nearest to B. Over the ordered pairs A -> B (A != B), the confusion rate is
Spearman-correlated with the latent distance between the clean glyphs' codes, and partially
so, controlling for their pixel Hamming distance (the confounder). p-values come from a
Mantel permutation: the glyph labels of the latent distance matrix are permuted (rows and
columns together), which keeps each matrix's internal dependence between pairs sharing a
glyph; :func:`scipy.stats.permutation_test` draws the permutations ("pairings" over glyph
indices).
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from nbae.data.metrics import binarize
from nbae.data.noise import NOISE_KINDS, noisy_copies
from nbae.studies.mantel import mantel, offdiag, pooled_matrices
from nbae.studies.params import ParamsError, integer, number, section

DEFAULTS = {"grid_n": 200, "margin": 0.1, "kind": "flip", "levels": [0.05, 0.1, 0.15, 0.2],
            "trials": 200, "seed": 1414, "permutations": 9999, "alternative": "less",
            "max_wrong": 1, "attractor_factor": 2.0, "representative": "typical"}
ALTERNATIVES = ("less", "greater", "two-sided")


def claims_params(params: dict) -> dict:
    """Checked section ``font_claims`` of ``params`` (defaults: :data:`DEFAULTS`)."""
    cfg = section(params, "font_claims", DEFAULTS)
    w = "font_claims."
    for key, low in (("grid_n", 2), ("trials", 1), ("seed", 0), ("permutations", 99),
                     ("max_wrong", 0)):
        cfg[key] = integer(cfg[key], w + key, low)
    cfg["margin"] = number(cfg["margin"], w + "margin", positive=False)
    if cfg["margin"] < 0:
        raise ParamsError(f"params {w}margin must be >= 0, got {cfg['margin']!r}")
    cfg["attractor_factor"] = number(cfg["attractor_factor"], w + "attractor_factor")
    if cfg["kind"] not in NOISE_KINDS:
        raise ParamsError(f"params {w}kind must be one of {', '.join(NOISE_KINDS)}, "
                          f"got {cfg['kind']!r}")
    hi = np.inf if cfg["kind"] == "gaussian" else 1.0
    lv = cfg["levels"]
    if not isinstance(lv, list) or not lv or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 < v <= hi for v in lv):
        raise ParamsError(f"params {w}levels must be a non-empty list of noise levels in "
                          f"(0, {hi}], got {lv!r}")
    cfg["levels"] = [float(v) for v in lv]
    if cfg["alternative"] not in ALTERNATIVES:
        raise ParamsError(f"params {w}alternative must be one of {', '.join(ALTERNATIVES)}, "
                          f"got {cfg['alternative']!r}")
    rep = cfg["representative"]
    if rep != "typical":
        cfg["representative"] = integer(rep, w + "representative ('typical' or a seed)", 0)
    return cfg


# --------------------------------------------------------------------------------- pixels


def hamming(images, glyphs, pixel_range=(0, 1)) -> np.ndarray:
    """Hamming distances (m, n) between binarised ``images`` (m, d) and ``glyphs`` (n, d)."""
    if np.isnan(np.asarray(images, dtype=np.float64)).any():
        raise ValueError("model output contains NaN; cannot threshold pixels")
    B = binarize(images, pixel_range).astype(np.float64)
    G = binarize(glyphs, pixel_range).astype(np.float64)
    return np.rint(B @ (1.0 - G).T + (1.0 - B) @ G.T).astype(np.int64)


def nearest_weights(D) -> np.ndarray:
    """Tie-split nearest-glyph weights of a distance matrix ``D`` (m, n).

    Row i puts 1/k on each of the k columns at its minimum distance, 0 elsewhere, so each
    row sums to 1 and a tie favours no glyph.
    """
    D = np.asarray(D)
    hit = D == D.min(axis=1, keepdims=True)
    return hit / hit.sum(axis=1, keepdims=True)


def latent_distances(Z) -> np.ndarray:
    """Euclidean distance matrix (n, n) between the codes ``Z`` (n, latent)."""
    return squareform(pdist(np.asarray(Z, dtype=np.float64)))


# ------------------------------------------------------------------------------ territory


def latent_box(Z, margin: float) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1): the codes' bounding box, widened on every side by ``margin`` times
    its longer side (the same padding on both axes; a single point gets a unit box)."""
    Z = np.asarray(Z, dtype=np.float64)
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    pad = margin * float(np.max(hi - lo)) if np.max(hi - lo) > 0 else 0.5
    return lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad


def grid_codes(box, n: int):
    """Centres of an ``n x n`` grid of equal cells over ``box``: (xs, ys, Z (n*n, 2)).

    Row ``i * n + j`` of ``Z`` is (xs[j], ys[i]), ``ys`` increasing (image row 0 at the bottom).
    """
    x0, x1, y0, y1 = box
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
    return xs, ys, np.column_stack([np.tile(xs, n), np.repeat(ys, n)])


def territories(decode, glyphs, box, grid_n: int, max_wrong: int = 1,
                pixel_range=(0, 1)) -> dict:
    """Each glyph's share of the latent region ``box``, decoded on a ``grid_n`` grid.

    Parameters
    ----------
    decode : callable
        Latent codes (m, 2) -> images (m, d), e.g. ``Autoencoder.decode``; called once.
    glyphs : array (n, d)
        The clean glyphs.
    box : (x0, x1, y0, y1)
        The region (see :func:`latent_box`).
    grid_n : int
        Cells per side; shares are exact up to the cells cut by a boundary.
    max_wrong : int
        A cell is "within" its nearest glyph when at most this many pixels differ.

    Returns
    -------
    dict
        ``nearest`` and ``within`` (n,) shares of the cells (ties split; ``nearest`` sums to
        1, ``within`` to ``1 - none``), ``none`` (share of cells within no glyph), ``owner``
        (grid_n, grid_n) the nearest glyph's index per cell (lowest index on a tie; row 0 at
        the bottom), ``close`` (grid_n, grid_n) bool (cell within ``max_wrong``), ``box``.
    """
    glyphs = np.asarray(glyphs, dtype=np.float64)
    _, _, Z = grid_codes(box, grid_n)
    D = hamming(decode(Z), glyphs, pixel_range)
    W = nearest_weights(D)
    close = D.min(axis=1) <= max_wrong
    nearest = np.round(W.mean(axis=0), 12)  # equal shares stay tied (rankings)
    within = np.round((W * close[:, None]).mean(axis=0), 12)
    return {"nearest": nearest, "within": within, "none": float(1.0 - close.mean()),
            "owner": D.argmin(axis=1).reshape(grid_n, grid_n),
            "close": close.reshape(grid_n, grid_n), "box": tuple(map(float, box))}


def attractors(shares, factor: float) -> np.ndarray:
    """Indices of glyphs whose share exceeds ``factor`` times the fair share ``1/n``."""
    shares = np.asarray(shares, dtype=np.float64)
    return np.flatnonzero(shares > factor / shares.size)


def _rho_matrix(T) -> np.ndarray:
    """Spearman rho (k, k) between the rows of ``T`` (scipy returns a scalar for k = 2)."""
    rho = stats.spearmanr(T, axis=1).statistic
    return np.array([[1.0, rho], [rho, 1.0]]) if np.ndim(rho) == 0 else rho


def ranking_stability(T) -> dict | None:
    """Agreement of territory rankings between seeds: Spearman rho of every pair of rows.

    ``T`` is (seeds, glyphs). Returns ``{"rho": mean, "min": ..., "max": ..., "pairs": k}``
    over the k seed pairs, or ``None`` with fewer than two seeds.
    """
    T = np.asarray(T, dtype=np.float64)
    if T.shape[0] < 2:
        return None
    rho = _rho_matrix(T)
    vals = rho[np.triu_indices(T.shape[0], k=1)]
    return {"rho": float(vals.mean()), "min": float(vals.min()), "max": float(vals.max()),
            "pairs": int(vals.size)}


def typical_seed(T, seeds) -> int:
    """The seed whose territory vector (row of ``T``) has the highest mean Spearman rho with
    the other seeds' (the first of ``seeds`` on a tie, or with a single seed)."""
    T = np.asarray(T, dtype=np.float64)
    if T.shape[0] < 2:
        return int(seeds[0])
    rho = _rho_matrix(T)
    return int(seeds[int(np.argmax((rho.sum(axis=1) - 1.0) / (len(T) - 1)))])


# ------------------------------------------------------------------------------ confusion


def confusion(reconstruct, X, levels, trials: int, kind: str = "flip", seed: int = 0,
              pixel_range=(0, 1)) -> np.ndarray:
    """Confusion rates (levels, n, n) of a model's reconstructions of noisy glyphs.

    ``C[l, a, b]`` is the share of the ``trials`` noisy copies of glyph ``a`` at
    ``levels[l]`` whose reconstruction is nearest (Hamming, binarised, ties split) to glyph
    ``b``; ``C[l, a, a]`` is the share recognised. The noise comes from
    :func:`nbae.data.noise.noisy_copies` with ``seed``, so every model sees the same inputs.
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    Xn, _, _ = noisy_copies(X, levels, trials, kind, seed=seed, pixel_range=pixel_range)
    W = nearest_weights(hamming(reconstruct(Xn), X, pixel_range))
    C = W.reshape(len(levels), trials, n, n).mean(axis=1)  # rows: level, copy, glyph
    return np.round(C, 12)  # equal rates stay tied whatever the summation order


# -------------------------------------------------------------------------------- summary


def _num(v):  # JSON-safe rounded number (None for NaN)
    return None if v is None or not np.isfinite(v) else round(float(v), 6)


def territory_summary(T, seeds, labels, factor: float, none_shares) -> dict:
    """JSON summary of one group's territories ``T`` (seeds, glyphs) of nearest shares.

    ``attractors``: glyphs whose mean share over seeds exceeds ``factor / n``, largest
    first; ``attractor_seeds``: for each glyph an attractor in at least one seed, how many;
    ``top``: the five largest mean shares; ``stability``: :func:`ranking_stability`.
    """
    T = np.asarray(T, dtype=np.float64)
    mean = T.mean(axis=0)
    order = np.argsort(-mean, kind="stable")
    big = set(attractors(mean, factor).tolist())
    att = [labels[i] for i in order if i in big]
    counts = np.zeros(len(labels), dtype=int)
    for row in T:
        counts[attractors(row, factor)] += 1
    stab = ranking_stability(T)
    return {"attractors": att, "rule": f"share > {factor:g}/{len(labels)}",
            "attractor_seeds": {labels[i]: int(counts[i]) for i in order if counts[i]},
            "top": {labels[i]: _num(mean[i]) for i in order[:5]},
            "none": _num(float(np.mean(none_shares))),
            "stability": None if stab is None else {k: _num(v) if k != "pairs" else v
                                                    for k, v in stab.items()},
            "seeds": [int(s) for s in seeds]}


def seed_summary(per_seed: list[dict]) -> dict:
    """Median, min and max over seeds of the Mantel results ``rho`` and ``prho``, and how
    many seeds reach p < 0.05 (``sig``, ``psig``)."""
    out = {}
    for key, pkey in (("rho", "p"), ("prho", "pp")):
        v = np.array([r[key] for r in per_seed if r[key] is not None], dtype=np.float64)
        out[key] = _num(np.median(v)) if v.size else None
        out[key + "_min"] = _num(v.min()) if v.size else None
        out[key + "_max"] = _num(v.max()) if v.size else None
        out[("sig" if key == "rho" else "psig")] = sum(
            1 for r in per_seed if r[pkey] is not None and r[pkey] < 0.05)
    out["n"] = len(per_seed)
    return out


# ----------------------------------------------------------------------------------- study


def study_model(ae, X, pixel, cfg: dict, pixel_range=(0, 1)) -> dict:
    """Territories, confusion and Mantel statistics of one model (``cfg``: claims_params).

    Returns ``Z`` (codes), ``terr`` (:func:`territories`), ``conf`` (levels, n, n),
    ``rate`` (n, n, its mean over levels), ``latent`` (n, n) and ``stats`` (:func:`mantel`
    on ``rate``). Codes and decodings come from :mod:`nbae.engine.exact`, so the numbers are
    the same on every machine.
    """
    from nbae.engine import exact

    Z = exact.encode(ae, X)
    terr = territories(lambda C: exact.decode(ae, C), X, latent_box(Z, cfg["margin"]),
                       cfg["grid_n"], cfg["max_wrong"], pixel_range)
    conf = confusion(lambda Xn: exact.reconstruct(ae, Xn), X, cfg["levels"], cfg["trials"],
                     cfg["kind"], cfg["seed"], pixel_range)
    lat = latent_distances(Z)
    rate = np.round(conf.mean(axis=0), 12)  # over the levels
    st = mantel(rate, lat, pixel, cfg["permutations"], cfg["seed"],
                cfg["alternative"])
    return {"Z": Z, "terr": terr, "conf": conf, "rate": rate, "latent": lat, "stats": st}


def study_group(models: dict, X, labels, cfg: dict, pixel_range=(0, 1),
                group: str = "ae") -> dict:
    """Study every model of a group (``{seed: model}``, ``cfg``: :func:`claims_params`).

    Returns a dict: ``results`` (seed -> :func:`study_model`), ``summary`` (the group's
    JSON part: territories, pooled and per-seed Mantel results, share recognised per level),
    ``territories`` and ``pairs`` (DataFrames, rows of the CSV files), ``pooled`` (confusion,
    latent, pixel matrices). Pooling: confusion averaged over seeds, latent distances scaled
    to mean 1 per seed, then averaged (:func:`pooled_matrices`); one Mantel test on those.
    """
    import pandas as pd

    X = np.asarray(X, dtype=np.float64)
    pixel = hamming(X, X, pixel_range)
    seeds = list(models)
    results = {s: study_model(models[s], X, pixel, cfg, pixel_range) for s in seeds}
    T = np.array([results[s]["terr"]["nearest"] for s in seeds])
    C, L = pooled_matrices([r["rate"] for r in results.values()],
                           [r["latent"] for r in results.values()])
    pooled = mantel(C, L, pixel, cfg["permutations"], cfg["seed"], cfg["alternative"])
    correct = np.mean([np.trace(r["conf"], axis1=1, axis2=2) / len(X)
                       for r in results.values()], axis=0)
    summary = {
        "territory": territory_summary(T, seeds, labels, cfg["attractor_factor"],
                                       [results[s]["terr"]["none"] for s in seeds]),
        "confusion": {"pooled": {k: _num(v) for k, v in pooled.items()},
                      "seeds": seed_summary([results[s]["stats"] for s in seeds]),
                      "correct": {f"{lv:g}": _num(c) for lv, c in
                                  zip(cfg["levels"], correct, strict=True)}}}
    n = len(X)
    a, b = np.divmod(np.flatnonzero(~np.eye(n, dtype=bool)), n)
    terr_rows, pair_rows = [], []
    for s in seeds:
        r = results[s]
        terr_rows.append(pd.DataFrame({"glyph": labels, "seed": s, "group": group,
                                       "share_nearest": r["terr"]["nearest"],
                                       "share_within": r["terr"]["within"]}))
        pair_rows.append(pd.DataFrame({
            "group": group, "seed": s, "a": [labels[i] for i in a], "b": [labels[j] for j in b],
            "latent_distance": offdiag(r["latent"]), "pixel_distance": offdiag(pixel),
            "confusion": offdiag(r["rate"])}))
    return {"results": results, "summary": summary, "pooled": (C, L, pixel),
            "territories": pd.concat(terr_rows, ignore_index=True),
            "pairs": pd.concat(pair_rows, ignore_index=True)}


def headline(summary: dict) -> dict:
    """Flat numbers of the stage's summary for ``dvc metrics show``: per group (ae, dae) the
    pooled Spearman rho and partial rho with their Mantel p-values, the ranking stability and
    the attractor glyphs."""
    out = {}
    for g in ("ae", "dae"):
        if g in summary:
            c, t = summary[g]["confusion"]["pooled"], summary[g]["territory"]
            out.update({f"{g}_rho": c["rho"], f"{g}_p": c["p"], f"{g}_prho": c["prho"],
                        f"{g}_pp": c["pp"], f"{g}_stability": t["stability"]["rho"]
                        if t["stability"] else None,
                        f"{g}_attractors": " ".join(t["attractors"])})
    return out
