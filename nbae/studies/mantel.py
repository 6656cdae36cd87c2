"""Mantel permutation tests between distance-like matrices over the same items (glyphs).

The study's claim 2 (``nbae.studies.claims``) asks whether glyph pairs nearer in latent space
are more confused under noise, beyond what their pixel distance explains. The pairs A -> B of
n items are not independent (pairs sharing a glyph are related), so p-values come from
permuting the item labels of one matrix (rows and columns together), which keeps each
matrix's internal dependence: :func:`scipy.stats.permutation_test` draws the permutations
("pairings" over item indices).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def offdiag(M) -> np.ndarray:
    """Entries ``M[a, b]`` with ``a != b`` of a square array (..., n, n), row-major."""
    M = np.asarray(M)
    n = M.shape[-1]
    return M[..., ~np.eye(n, dtype=bool)]


def _rank_matrix(M) -> np.ndarray:
    """``M`` with its off-diagonal entries replaced by their ranks (average on ties)."""
    R = np.zeros(np.shape(M))
    R[~np.eye(len(R), dtype=bool)] = stats.rankdata(offdiag(M))
    return R


def _partial(r_xy, r_xz, r_yz):
    """Partial correlation of x and y given z from the three pairwise correlations (equal to
    the correlation of the residuals of x and y after a linear fit on z)."""
    return (r_xy - r_xz * r_yz) / np.sqrt((1.0 - r_xz**2) * (1.0 - r_yz**2))


def mantel(conf, latent, pixel, permutations: int = 9999, seed: int = 0,
           alternative: str = "less") -> dict:
    """Spearman and partial Spearman correlation of confusion with latent distance.

    Parameters
    ----------
    conf, latent, pixel : arrays (n, n)
        Confusion rate a -> b, latent distance and pixel distance between glyphs; the
        ordered off-diagonal pairs are used (n (n - 1) of them).
    permutations : int
        Random glyph-label permutations of ``latent`` (rows and columns together) drawn by
        :func:`scipy.stats.permutation_test` (exact when n! is not larger).
    alternative : {"less", "greater", "two-sided"}
        "less": nearer pairs (smaller distance) are more confused, the claim.

    Returns
    -------
    dict
        ``rho`` Spearman(confusion, latent) and its permutation ``p``; ``prho`` the partial
        Spearman correlation controlling for pixel distance (ranks, then partial correlation)
        and its ``pp`` under the same permutations; ``rho_px`` Spearman(confusion, pixel) and
        ``rho_lp`` Spearman(latent, pixel). Values are ``None`` when confusion is constant.
    """
    c, lat, px = offdiag(conf), offdiag(latent), offdiag(pixel)
    rho_px = float(stats.spearmanr(c, px).statistic) if np.ptp(px) > 0 else None
    rho_lp = float(stats.spearmanr(lat, px).statistic) if np.ptp(px) > 0 else None
    out = {"rho": None, "p": None, "prho": None, "pp": None, "rho_px": rho_px,
           "rho_lp": rho_lp}
    if np.ptp(c) == 0 or np.ptp(lat) == 0:
        return out
    out["rho"] = float(stats.spearmanr(c, lat).statistic)
    # Ranks are permutation-invariant as a set: the ranks of a relabelled matrix are the
    # relabelled rank matrix, so each permutation needs no new ranking.
    rc, rl, rp = offdiag(_rank_matrix(conf)), _rank_matrix(latent), offdiag(_rank_matrix(pixel))

    def permuted(perm):  # perm (..., n) -> ranks of the relabelled latent matrix (..., pairs)
        return offdiag(rl[perm[..., :, None], perm[..., None, :]])

    def rho(perm, axis=-1):
        return stats.pearsonr(rc, permuted(perm), axis=-1).statistic

    def prho(perm, axis=-1):
        r = permuted(perm)
        return _partial(stats.pearsonr(rc, r, axis=-1).statistic,
                        stats.pearsonr(rc, rp, axis=-1).statistic,
                        stats.pearsonr(r, rp, axis=-1).statistic)

    idx = (np.arange(len(rl)),)
    kw = {"permutation_type": "pairings", "vectorized": True, "n_resamples": permutations,
          "alternative": alternative, "batch": 1000}
    res = stats.permutation_test(idx, rho, random_state=seed, **kw)
    out["p"] = float(res.pvalue)
    if np.ptp(px) > 0 and abs(rho_px) < 1 and abs(rho_lp) < 1:
        part = stats.permutation_test(idx, prho, random_state=seed, **kw)
        out["prho"], out["pp"] = float(part.statistic), float(part.pvalue)
    return out


def pooled_matrices(confusions, latents) -> tuple[np.ndarray, np.ndarray]:
    """(mean confusion, mean scale-free latent distance) over seeds.

    Each seed's latent distance matrix is divided by its mean off-diagonal distance before
    averaging (a latent plane's scale is arbitrary and differs between seeds).
    """
    L = np.stack([np.asarray(m) / offdiag(m).mean() for m in latents])
    return np.round(np.mean(np.stack(confusions), axis=0), 12), L.mean(axis=0)
