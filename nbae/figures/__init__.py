"""Figure functions for the studies: plain arrays and DataFrames in, PNG files out.

Nothing here touches a model, a params file or a data file; every PNG is written atomically.
The rooms: :mod:`~nbae.figures.common` (checks, rendering, tiles), :mod:`~nbae.figures.images`
(grids, reconstructions, pairs, transitions, denoising rows, latent sweeps),
:mod:`~nbae.figures.latent` (the labelled latent map), :mod:`~nbae.figures.curves` (training
error, noise curves, latent-size search). ``from nbae import figures as plots`` gives the
same names the former ``nbae.plots`` module had (less its two computations:
the latent-size choice is :func:`nbae.studies.flower_search.smallest_size`, ``wrong_pixel_mask`` in
:mod:`nbae.data.metrics`).
"""

from nbae.figures.common import GLYPH_MAX_PIXELS, format_code
from nbae.figures.curves import (
    downsample_history,
    plot_bands,
    plot_history,
    plot_latent_search,
    plot_noise_curves,
)
from nbae.figures.images import (
    SWEEP_AXES,
    plot_denoising,
    plot_image_grid,
    plot_latent_grid,
    plot_pairs,
    plot_reconstructions,
    plot_transitions,
    sweep_description,
)
from nbae.figures.latent import plot_latent_map

__all__ = [
    "GLYPH_MAX_PIXELS",
    "SWEEP_AXES",
    "downsample_history",
    "format_code",
    "plot_bands",
    "plot_denoising",
    "plot_history",
    "plot_image_grid",
    "plot_latent_grid",
    "plot_latent_map",
    "plot_latent_search",
    "plot_noise_curves",
    "plot_pairs",
    "plot_reconstructions",
    "plot_transitions",
    "sweep_description",
]
