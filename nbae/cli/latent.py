"""Commands that move through the latent space: ``encode``, ``decode``, ``interpolate``,
``generate``.

Data goes to stdout and messages to stderr, so they pipe (``nbae encode m.npz k h | nbae
decode m.npz -``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nbae.cli import checks
from nbae.cli.base import (
    CONTEXT,
    FORMAT_OPTION,
    IMAGE_OUT,
    MODEL_ARG,
    Command,
    check_out,
    echo_err,
    friendly,
    output_option,
    show_images,
)
from nbae.cli.checks import FiniteFloat


def input_files(items):
    """The command-line inputs that are files (the outputs must not overwrite them)."""
    return [Path(str(i)) for i in items if str(i) not in ("", "-") and Path(str(i)).is_file()]


@click.command(cls=Command, context_settings=CONTEXT)
@MODEL_ARG
@click.argument("inputs", nargs=-1, required=True)
@output_option((".csv", ".npy"), "(CSV with header z0,z1,...,label)")
@friendly
def encode(model, inputs, output):
    """Latent codes of INPUTS: glyphs of the model's font, .npy/.csv matrices or images.

    \b
    Examples:
      nbae encode font.npz k h            # glyphs (also: nbae encode font.npz kh)
      nbae encode font.npz glyphs.csv -o codes.npy
      nbae encode flowers.npz daisy.jpg   # centre-cropped, grayscale, resized
    """
    from nbae.cli.inputs import load_model, resolve_inputs
    from nbae.cli.outputs import matrix_csv, write_matrix

    check_out(output, (".csv", ".npy"), [model, *input_files(inputs)])
    ae = load_model(model)
    X, labels = resolve_inputs(ae, inputs)
    Z = ae.encode(X)
    if output is None:
        click.echo(matrix_csv(Z, "z", labels), nl=False)
    else:
        write_matrix(output, Z, "z", labels)
        echo_err(f"wrote {len(Z)} code(s) to {output}")


@click.command(cls=Command, context_settings={**CONTEXT, "ignore_unknown_options": True})
@MODEL_ARG
@click.argument("codes", nargs=-1, required=True)
@output_option(IMAGE_OUT, "(text art for glyph models, else CSV)")
@FORMAT_OPTION
@friendly
def decode(model, codes, output, fmt):
    """Decode latent CODES into images.

    CODES are inline ("0.1,0.2", several arguments or ';'-separated rows; negative numbers
    work), a .csv/.npy file (such as the output of nbae encode), or '-' to read CSV from stdin.

    \b
    Examples:
      nbae decode font.npz 0.5,-0.2 "0,0;1,1"
      nbae encode font.npz k h | nbae decode font.npz -
      nbae decode font.npz codes.csv -o decoded.png
    """
    from nbae.cli.inputs import load_model, parse_codes

    check_out(output, IMAGE_OUT, [model, *input_files(codes)])
    ae = load_model(model)
    Z, labels = parse_codes(codes, ae.latent_dim, stdin=sys.stdin)
    images = ae.decode(Z)
    titles = labels or [str(i) for i in range(len(Z))]
    if output is not None and str(output).lower().endswith(".png") and not labels:
        from nbae.figures import format_code

        titles = [format_code(z) for z in Z]  # the code each image was decoded from
    show_images(ae, images, titles, output, fmt, png_title=f"Decoded from {model}")


@click.command(cls=Command, context_settings=CONTEXT)
@MODEL_ARG
@click.argument("a")
@click.argument("b")
@click.option("--steps", type=click.IntRange(min=2, max=checks.MAX_COUNT), default=9,
              help=f"Points on the line, both ends included (at most {checks.MAX_COUNT:,}).")
@output_option(IMAGE_OUT, "(text art for glyph models, else CSV)")
@FORMAT_OPTION
@friendly
def interpolate(model, a, b, steps, output, fmt):
    """Decode the straight latent path from input A to input B (glyphs or files).

    \b
    Examples:
      nbae interpolate font.npz k h --steps 7
      nbae interpolate font.npz a o -o a-to-o.png
    """
    from nbae.cli.inputs import image_shape, load_model, pixel_range, resolve_inputs
    from nbae.engine.latent import interpolate as walk
    from nbae.errors import InputError

    suffix = check_out(output, IMAGE_OUT, [model, *input_files([a, b])])
    ae = load_model(model)
    ends = []
    for item in (a, b):
        X, labels = resolve_inputs(ae, [item])
        if len(X) != 1:
            raise InputError(f"{item}: holds {len(X)} inputs; interpolate needs exactly one")
        ends.append((X[0], labels[0]))
    _, images = walk(ae, ends[0][0], ends[1][0], steps)
    ta, tb = ends[0][1], ends[1][1]
    titles = [ta] + [f"{t:.2g}" for t in (i / (steps - 1) for i in range(1, steps - 1))] + [tb]
    if suffix == ".png":
        shape = image_shape(ae)
        if shape is None:
            raise InputError(f"{output}: the model records no image shape; write .npy or .csv")
        from nbae.figures import plot_transitions

        plot_transitions([(ta, tb, images)], shape, pixel_range(ae), output,
                         title=f"{ta} -> {tb} along the latent line")
        echo_err(f"wrote {steps} image(s) to {output}")
        return
    show_images(ae, images, titles, output, fmt)


@click.command(cls=Command, context_settings=CONTEXT)
@MODEL_ARG
@click.option("-n", "--count", type=click.IntRange(min=1, max=checks.MAX_COUNT), default=8,
              help=f"Samples to draw (at most {checks.MAX_COUNT:,}).")
@click.option("--seed", type=click.IntRange(min=0), default=0)
@click.option("--scale", type=FiniteFloat(min=0, max=checks.MAX_SCALE), default=1.0,
              help="Widen (>1) or narrow (<1) the distribution of the training codes "
                   f"(at most {checks.MAX_SCALE:g}).")
@output_option(IMAGE_OUT, "(text art for glyph models, else CSV)")
@FORMAT_OPTION
@friendly
def generate(model, count, seed, scale, output, fmt):
    """Decode random codes drawn from a Gaussian fitted to the training codes.

    Text output titles each sample with its nearest training label (~k) in latent space.

    \b
    Examples:
      nbae generate font.npz -n 8 --seed 1
      nbae generate flowers.npz -n 16 -o samples.png
    """
    import numpy as np

    from nbae.cli.inputs import load_model, stored_inputs
    from nbae.engine.latent import nearest, sample_codes
    from nbae.engine.serialization import ModelFileError

    check_out(output, IMAGE_OUT, [model])
    ae = load_model(model)
    try:
        if hasattr(ae, "sample"):  # a VAE: draws from its prior N(0, I), times --scale
            Z = scale * np.random.default_rng(seed).standard_normal((count, ae.latent_dim))
        else:
            Z = sample_codes(ae, count, seed=seed, scale=scale)
    except (ValueError, TypeError, KeyError, OverflowError, np.linalg.LinAlgError) as exc:
        raise ModelFileError(f"{model}: cannot sample codes from its latent_stats "
                             f"({' '.join(str(exc).split())})") from None
    if not np.all(np.isfinite(Z)):
        raise ModelFileError(f"{model}: latent_stats too large to sample from at --scale "
                             f"{scale:g}")
    images = ae.decode(Z)
    labels, train = stored_inputs(ae)
    if train is not None:
        idx, _ = nearest(Z, ae.encode(train))
        titles = [f"~{labels[i]}" for i in idx]
    else:
        titles = [str(i) for i in range(count)]
    show_images(ae, images, titles, output, fmt, png_title="Generated samples")
