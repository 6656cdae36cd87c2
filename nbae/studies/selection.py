"""Choosing a latent size from a latent-size search (a computation the studies make).

Moved out of the figures module: the flower study decides with it, and a figure only draws
the decision it is given.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["choose_latent_dim"]


def choose_latent_dim(df: pd.DataFrame, threshold: float, column: str = "best_loss"):
    """Smallest ``latent_dim`` whose ``column`` value is at or below ``threshold``, else None.

    With several rows per latent size (seeds), the size qualifies when its best row does.
    ``ValueError`` when ``df`` is not a DataFrame with columns ``latent_dim`` and ``column``.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in ("latent_dim", column) if c not in df.columns]
    if missing:
        raise ValueError(f"df lacks column(s) {missing}; it has {list(df.columns)}")
    best = df.groupby("latent_dim")[column].min()
    ok = best[best <= threshold]
    return None if ok.empty else int(ok.index.min())
