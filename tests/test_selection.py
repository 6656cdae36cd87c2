"""choose_latent_dim: the smallest latent size whose best run reaches the threshold."""

from __future__ import annotations

import pandas as pd
import pytest

from nbae.studies.selection import choose_latent_dim


def test_choose_latent_dim():
    df = pd.DataFrame({"latent_dim": [1, 2, 2, 3, 4],
                       "final_loss": [1, 1, 1, 1, 1],
                       "best_loss": [0.5, 0.3, 0.09, 0.05, 0.01]})
    assert choose_latent_dim(df, 0.1) == 2
    assert choose_latent_dim(df, 0.05) == 3
    assert choose_latent_dim(df, 0.001) is None
    assert choose_latent_dim(df, 1.0, column="final_loss") == 1


def test_choose_latent_dim_rejects_missing_column():
    with pytest.raises(ValueError, match="best_loss"):
        choose_latent_dim(pd.DataFrame({"latent_dim": [1]}), 0.1)
    with pytest.raises(ValueError, match="DataFrame"):
        choose_latent_dim({"latent_dim": [1]}, 0.1)
