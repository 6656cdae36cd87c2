"""Training bookkeeping: the history table, metric values, the progress bar."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd


def history_frame(losses, done, metrics) -> pd.DataFrame:
    """Per-epoch table: ``epoch``, ``loss`` and one column per metric (NaN between evaluations).

    losses : float ndarray
        Loss of every epoch; the first ``done`` are used.
    done : int
        Epochs run.
    metrics : dict of int to dict of str to float
        Metric values by the epoch after which they were measured.
    """
    columns = {"epoch": np.arange(1, done + 1), "loss": losses[:done]}
    for name in sorted({k for m in metrics.values() for k in m}):
        col = np.full(done, np.nan)
        for ep, vals in metrics.items():
            if name in vals and ep <= done:
                col[ep - 1] = vals[name]
        columns[name] = col
    return pd.DataFrame(columns)  # one construction: a column set afterwards costs ~0.1 ms


def metric_values(values) -> dict:
    """A metric's return value as {name: float}; a bare number is named ``metric``."""
    if isinstance(values, dict):
        return {str(k): float(v) for k, v in values.items()}
    return {"metric": float(values)}


class ProgressBar:
    """tqdm bar of epochs with the latest loss, on stderr; silent when stderr is no terminal."""

    def __init__(self, total):
        from tqdm import tqdm

        # disable=None: tqdm turns itself off on a non-TTY stream
        self._bar = tqdm(total=total, unit="epoch", file=sys.stderr, disable=None,
                         mininterval=0.1, dynamic_ncols=True)

    def update(self, done, loss):
        """Move to ``done`` epochs; show ``loss``."""
        self._bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self):
        self._bar.close()


def progress_callback(total):
    """``update(done, loss)`` over a :class:`ProgressBar`; ``update(None, None)`` closes it.

    The calling convention of the former hand-written bar, kept for the VAE and lanes loops.
    """
    bar = ProgressBar(total)

    def update(done, loss):
        if done is None:
            bar.close()
        else:
            bar.update(done, loss)

    return update
