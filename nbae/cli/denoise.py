"""``nbae denoise``: corrupt inputs with noise and show what the model restores."""

from __future__ import annotations

from pathlib import Path

import click

from nbae.cli import checks
from nbae.cli.base import (
    CONTEXT,
    MODEL_ARG,
    Command,
    InputUsageError,
    check_out,
    echo_err,
    friendly,
)
from nbae.cli.checks import FiniteFloat
from nbae.cli.latent import input_files
from nbae.engine.codes import NOISE_KINDS


@click.command(cls=Command, context_settings=CONTEXT)
@MODEL_ARG
@click.argument("inputs", nargs=-1, required=True)
@click.option("--noise", "level", type=FiniteFloat(min=0, max=checks.MAX_NOISE), default=0.1,
              help="Flip/mask probability per pixel, or the gaussian standard deviation "
                   f"(at most {checks.MAX_NOISE:g}).")
@click.option("--kind", type=click.Choice([k for k in NOISE_KINDS if k != "none"]),
              default="flip", help="Noise model (see nbae.data.noise).")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the noise.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write a figure (.png) or the arrays (.npy: clean, noisy, restored stacked) "
                   "instead of the text summary.")
@friendly
def denoise(model, inputs, level, kind, seed, output):
    """Add noise to INPUTS and show the noisy versions next to the model's restorations.

    For glyph models the text output counts pixels changed by the noise and pixels still
    wrong after restoring; for others it lists root-mean-square errors.

    \b
    Examples:
      nbae denoise font.npz k h a --noise 0.1 --seed 1
      nbae denoise font.npz kha --kind mask --noise 0.2 -o denoise.png
    """
    import numpy as np

    from nbae.cli.inputs import (
        InputError,
        image_shape,
        is_glyph_model,
        load_model,
        pixel_range,
        resolve_inputs,
    )
    from nbae.cli.outputs import ascii_grid
    from nbae.data.metrics import pixel_errors
    from nbae.data.noise import add_noise

    suffix = check_out(output, (".png", ".npy"), [model, *input_files(inputs)])
    if kind in ("flip", "mask") and level > 1:
        raise InputUsageError(f"--noise is a probability for --kind {kind}: got {level}, "
                              "use a value in [0, 1]")
    ae = load_model(model)
    X, labels = resolve_inputs(ae, inputs)
    rng = pixel_range(ae)
    noisy = add_noise(X, kind, level, seed=seed, pixel_range=rng)
    restored = ae.reconstruct(noisy)
    if suffix == ".npy":
        from nbae import fileio

        fileio.save_npy(output, np.stack([X, noisy, restored]))
        echo_err(f"wrote clean, noisy and restored ({len(X)} each) to {output}")
        return
    if suffix == ".png":
        shape = image_shape(ae)
        if shape is None:
            raise InputError(f"{output}: the model records no image shape; write .npy")
        from nbae.figures import plot_denoising

        plot_denoising(X, {level: (noisy, restored)}, shape, rng, output, labels=labels,
                       title=f"Denoising ({kind} noise)")
        echo_err(f"wrote {output}")
        return
    if is_glyph_model(ae):
        changed = pixel_errors(X, noisy, rng)
        wrong = pixel_errors(X, restored, rng)
        click.echo(ascii_grid([X, noisy, restored], image_shape(ae), rng, titles=labels,
                              row_labels=["clean", "noisy", "restored"],
                              extra=[("changed", changed.tolist()), ("wrong", wrong.tolist())]))
        click.echo(f"\n{kind} noise {level:g}: {int(changed.sum())} pixel(s) changed, "
                   f"{int(wrong.sum())} wrong after restoring")
        return
    click.echo("label,noisy_rmse,restored_rmse")
    for lab, x, nx, rx in zip(labels, X, noisy, restored, strict=True):
        click.echo(f"{lab},{np.sqrt(np.mean((nx - x) ** 2)):.6g},"
                   f"{np.sqrt(np.mean((rx - x) ** 2)):.6g}")
