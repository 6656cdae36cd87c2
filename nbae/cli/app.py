"""The ``nbae`` command line: train, inspect and use autoencoders from the shell.

Data goes to stdout and messages to stderr, so commands pipe (``nbae encode m.npz k h |
nbae decode m.npz -``). Heavy modules (NumPy kernels, Numba, matplotlib) are imported inside
the commands: ``nbae --help`` stays fast. Errors are one ``Error: ...`` line: exit status 2 for
bad usage or input, 1 for failures while running, 130 when training is interrupted.
"""

from __future__ import annotations

import functools
import json
import sys
import warnings
from pathlib import Path

import click

from nbae import __version__
from nbae.engine.codes import ACTIVATIONS, INITS, LOSSES, NOISE_KINDS, OPTIMIZERS

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}
IMAGE_OUT = (".png", ".npy", ".csv")


class InputUsageError(click.UsageError):
    """A usage error about a value or file: one ``Error:`` line, no usage text (exit 2)."""

    def show(self, file=None):
        click.echo(f"Error: {self.format_message()}", err=True, file=file)


def _friendly(fn):
    """Turn library exceptions into one-line click errors instead of tracebacks.

    NumPy's RuntimeWarnings (overflow in a diverging run, ...) are silenced: the commands
    report what matters in their own one-line messages.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            raise _translate(exc) from None

    return wrapper


def _translate(exc: Exception) -> Exception:
    from nbae.cli.inputs import InputError
    from nbae.errors import TrainingDiverged

    msg = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, InputError):
        return InputUsageError(msg)
    if isinstance(exc, TrainingDiverged):
        return click.ClickException(f"training diverged: {msg}; nothing written")
    if isinstance(exc, OSError) and exc.filename is not None:
        return click.ClickException(f"{exc.filename}: {exc.strerror or msg}")
    if isinstance(exc, (ValueError, OSError)):  # ModelFileError, FontFormatError, ...
        return click.ClickException(msg)
    return exc


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="nbae")
def main():
    """Numba-accelerated dense autoencoders: train, encode, decode, explore.

    \b
    Quick start on the course font (data/font.h):
      nbae train --layers 35,25,15,5,2 --epochs 20000 -o font.npz
      nbae encode font.npz k h
      nbae decode font.npz 0.5,-0.2
      nbae interpolate font.npz k h --steps 7
    """


# ------------------------------------------------------------------------------ train

_MODEL_OPTS = ("layers", "activation", "latent_activation", "output_activation", "loss", "init",
               "seed", "dtype")
_FIT_OPTS = ("optimizer", "lr", "batch_size", "epochs", "epoch_loss")


def _validate_activation(ctx, param, value):
    if value is None:
        return None
    from nbae.engine.codes import activation_name

    names = [v for v in value.replace(" ", "").split(",") if v]
    try:
        names = [activation_name(v) for v in names]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not names:
        raise click.BadParameter("give at least one activation name")
    return names[0] if len(names) == 1 else names


def _validate_layers(ctx, param, value):
    if value is None:
        return None
    from nbae.cli.inputs import InputError, parse_int_list

    try:
        layers = parse_int_list(value, "--layers")
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None
    if len(layers) < 2:
        raise click.BadParameter("needs an input and a latent size at least, e.g. 35,20,2")
    return layers


@main.command(context_settings=CONTEXT)
@click.option("--params", "params_file", type=click.Path(path_type=Path, dir_okay=False),
              help="YAML file with the architecture/training settings.")
@click.option("--section", metavar="DOTTED.PATH",
              help="Section of --params to use, e.g. architectures.7 [default: the whole file; "
                   "--params defaults to params.yaml when --section is given]")
@click.option("--data", default="font", metavar="font|FILE",
              help="'font' (a font.h array), a prepared flower set .npz (X, ids, labels) or a "
                   ".npy/.csv matrix, one sample per row.")
@click.option("--font-file", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("data/font.h"), help="Font file for --data font.")
@click.option("--font-name", default="Font3", help="Array in --font-file (Font1, Font2, Font3).")
@click.option("--encoding", type=click.Choice(["binary", "bipolar"]), show_default="binary",
              help="Font pixels as {0,1} or {-1,1} (bipolar wants a tanh output).")
@click.option("--layers", callback=_validate_layers, metavar="N,N,...",
              show_default="from --params", help="Encoder sizes, input first, latent last.")
@click.option("--activation", callback=_validate_activation, metavar="NAME[,NAME...]",
              show_default="tanh",
              help=f"Hidden activation(s): {', '.join(ACTIVATIONS)}; a list gives one per "
                   "hidden layer.")
@click.option("--latent-activation", type=click.Choice(list(ACTIVATIONS)),
              show_default="identity", help="Activation of the code layer.")
@click.option("--output-activation", type=click.Choice(list(ACTIVATIONS)),
              show_default="sigmoid", help="Activation of the reconstruction.")
@click.option("--loss", type=click.Choice(list(LOSSES)), show_default="mse")
@click.option("--init", type=click.Choice(list(INITS)), show_default="scaled-uniform",
              help="Weight initialisation.")
@click.option("--optimizer", type=click.Choice(list(OPTIMIZERS)), show_default="adam")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), show_default="0.001",
              help="Learning rate.")
@click.option("--batch-size", type=click.IntRange(min=1), show_default="5")
@click.option("--epochs", type=click.IntRange(min=1), show_default="1000")
@click.option("--epoch-loss", type=click.Choice(["running", "full"]), show_default="running",
              help="Per-epoch loss in the history: the running mean of the mini-batch losses, "
                   "or the whole training set's loss of the end-of-epoch weights (one more "
                   "forward pass per epoch; the best epoch is then exact).")
@click.option("--seed", type=click.IntRange(min=0), show_default="0",
              help="Seeds the initial weights and the shuffling.")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), show_default="float64")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("model.npz"), help="Model file to write (.npz).")
@click.option("--history", type=click.Path(path_type=Path, dir_okay=False),
              show_default="OUTPUT.history.csv", help="Per-epoch loss CSV.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or log lines.")
@click.pass_context
@_friendly
def train(ctx, params_file, section, data, font_file, font_name, encoding, output, history,
          quiet, **options):
    """Train an autoencoder and save it with its per-epoch history.

    Settings come from a params.yaml section (--params/--section) and/or options; options win.
    Ctrl-C stops training early: the best weights so far are saved (exit status 130).

    \b
    Examples:
      nbae train --layers 35,25,15,5,2 --epochs 20000 -o font.npz
      nbae train --params params.yaml --section architectures.7 --epochs 500
      nbae train --data data/flowers/prepared/flowers.npz --layers 1024,256,32 \\
                 --output-activation tanh -o flowers.npz
    """
    from nbae.cli.inputs import DATA_KEYS, InputError, load_dataset, load_section

    if output.suffix.lower() != ".npz":
        raise InputUsageError(f"{output}: model files end in .npz")
    history = history or output.with_name(output.stem + ".history.csv")
    if history.suffix.lower() != ".csv":
        raise InputUsageError(f"{history}: history files end in .csv")
    _check_writable(output)
    _check_writable(history)
    if _same_file(output, history):
        raise InputUsageError(f"{history}: the history cannot be the model file")
    cfg, where = {}, "options"
    if section is not None or params_file is not None:
        params_file = params_file or Path("params.yaml")
        cfg = load_section(params_file, section)
        where = f"{params_file}" + (f" section {section!r}" if section else "")
    data_cfg = {k: cfg.pop(k) for k in DATA_KEYS if k in cfg}
    for key in _MODEL_OPTS + _FIT_OPTS:
        if options.get(key) is not None:
            cfg[key] = options[key]
    if "layers" not in cfg and not where.startswith("options"):
        from nbae.studies.experiment import check_config

        try:
            check_config(cfg, where)  # names unknown keys, e.g. a misspelt 'layers'
        except ValueError as exc:
            raise InputError(str(exc)) from None
    if "layers" not in cfg:
        raise InputUsageError("no architecture: pass --layers (e.g. 35,20,2) or "
                              "--params/--section")
    if data == "font" and "data" in data_cfg:
        data = str(data_cfg["data"])
    encoding = encoding or data_cfg.get("encoding", "binary")
    ds = load_dataset(data, font_file=font_file, font_name=font_name, encoding=encoding)
    n, width = ds.X.shape
    layers = cfg["layers"]
    if not isinstance(layers, list) or not layers or layers[0] != width:
        raise InputError(f"layers {layers} do not fit the data: {ds.name} has {width} values "
                         f"per sample, so the first size must be {width}")
    low = ds.pixel_range[0]
    if low < 0 and cfg.get("output_activation", "sigmoid") in ("sigmoid", "softmax", "relu"):
        _echo_err(f"warning: {ds.name} pixels reach {low} but output activation "
                  f"{cfg.get('output_activation', 'sigmoid')!r} cannot; consider "
                  "--output-activation tanh")

    from nbae.studies.experiment import fit_from_config, latent_stats, model_from_config

    try:
        ae = model_from_config(cfg, metadata=ds.model_metadata(), where=where)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    epochs = int(cfg.get("epochs", 1000))
    tty = sys.stderr.isatty() and not quiet
    fit_opts = {"progress": tty}
    if not tty and not quiet:
        # plain lines for logs (DVC, pipes): about ten per run
        fit_opts.update(callback=_log_callback(epochs), callback_every=max(1, epochs // 10))
    if not quiet:
        _echo_err(f"training {'-'.join(map(str, ae.sizes))} ({ae.n_params:,} parameters) on "
                  f"{ds.name}: {n} samples x {width}, {epochs} epochs")
    interrupted = False
    try:
        fit_from_config(ae, cfg, ds.X, where=where, **fit_opts)
    except KeyboardInterrupt:
        interrupted = True
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if interrupted:
        if ae.history is None or len(ae.history) == 0:
            _echo_err("interrupted before the first epoch finished; nothing written")
            ctx.exit(130)
        ae.metadata["latent_stats"] = latent_stats(ae, ds.X)
    _save_trained(ae, output, history)
    t = ae.training
    kind = t.get("epoch_loss") or "running"
    best = (f"best epoch {t['best_epoch']}, {kind} loss {t['best_loss']:.6g}"
            if t.get("best_loss") is not None else "no finite loss")
    saved = ae.loss(ds.X)  # what the file holds, not the running mean of the best epoch
    best += f"; loss of the saved weights {saved:.6g} on the training set"
    if interrupted:
        _echo_err(f"interrupted after {t['epochs_run']} of {epochs} epochs; saved the best "
                  f"weights ({best}) to {output}, history to {history}")
        ctx.exit(130)
    if not quiet:
        _echo_err(f"saved {output} ({best}, {t['seconds']:.1f} s); history {history}")


def _check_writable(path: Path) -> None:
    """Usage error naming ``path`` unless a file can be written there (checked before training).

    The path must not be a directory or another non-regular file, and its folder must be an
    existing directory we can create files in, or creatable below the nearest existing one.
    """
    import os
    import tempfile

    if path.is_dir():
        raise InputUsageError(f"{path} is a directory")
    if path.exists() and not path.is_file():
        raise InputUsageError(f"{path}: not a regular file")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputUsageError(f"{path}: {folder} is not a directory")
    try:  # the only reliable test (root, read-only mounts, /proc): create a file there
        fd, probe = tempfile.mkstemp(prefix=".nbae-probe-", dir=folder)
    except OSError as exc:
        raise InputUsageError(f"{path}: cannot write in {folder} "
                              f"({exc.strerror or type(exc).__name__})") from None
    os.close(fd)
    os.unlink(probe)


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _save_trained(ae, output: Path, history: Path) -> None:
    """Write the model and its history, both or neither; errors name the user's paths.

    Both go to temporary files first; the model is renamed into place, then the history, and
    if the history fails after that the model just written is removed again.
    """
    import contextlib

    from nbae import fileio

    target, moved = history, False
    try:
        with fileio.atomic_path(history) as tmp_history:
            target = output
            with fileio.atomic_path(output) as tmp_model:
                ae.save(tmp_model)
                target = history
                ae.history.to_csv(tmp_history, index=False)
                target = output
            moved = True
            target = history
    except BaseException as exc:
        if moved:
            with contextlib.suppress(OSError):
                output.unlink()
        if isinstance(exc, OSError):
            reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
            raise click.ClickException(f"{target}: cannot write ({reason}); "
                                       "no model or history written") from None
        raise


def _log_line(epoch: int, total: int, loss: float) -> None:
    _echo_err(f"epoch {epoch}/{total}  loss {loss:.6g}")


def _log_callback(total: int):
    def callback(ae, history):
        if len(history):
            last = history.iloc[-1]
            _log_line(int(last["epoch"]), total, float(last["loss"]))
        return False

    return callback


# ------------------------------------------------------------------------------ shared

_MODEL_ARG = click.argument("model", type=click.Path(path_type=Path, dir_okay=False))


def _output_option(kinds, default_help):
    return click.option(
        "-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=False),
        help=f"Write to a file ({', '.join(kinds)}) instead of stdout {default_help}.")


def _check_out(output, kinds):
    from nbae.cli.inputs import check_output

    return check_output(output, kinds) if output is not None else None


def _show_images(ae, images, titles, output, fmt="auto", png_title=None):
    """Images to a file (by suffix), or to stdout as text art (glyph models) or CSV."""
    from nbae.cli.inputs import (
        ascii_grid,
        image_shape,
        is_glyph_model,
        matrix_csv,
        pixel_range,
        write_images,
    )

    if output is not None:
        write_images(output, images, ae, titles=titles, title=png_title)
        _echo_err(f"wrote {len(images)} image(s) to {output}")
        return
    if fmt == "ascii" or (fmt == "auto" and is_glyph_model(ae)):
        shape = image_shape(ae)
        if shape is None:
            raise InputUsageError("the model records no image shape; use --format csv")
        click.echo(ascii_grid([images], shape, pixel_range(ae), titles=titles))
    else:
        click.echo(matrix_csv(images, "x", titles), nl=False)


_FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["auto", "ascii", "csv"]), default="auto",
    help="Stdout format: text art (auto for small bitmap models such as the font) or CSV.")


# ------------------------------------------------------------------------------ encode


@main.command(context_settings=CONTEXT)
@_MODEL_ARG
@click.argument("inputs", nargs=-1, required=True)
@_output_option((".csv", ".npy"), "(CSV with header z0,z1,...,label)")
@_friendly
def encode(model, inputs, output):
    """Latent codes of INPUTS: glyphs of the model's font, .npy/.csv matrices or images.

    \b
    Examples:
      nbae encode font.npz k h            # glyphs (also: nbae encode font.npz kh)
      nbae encode font.npz glyphs.csv -o codes.npy
      nbae encode flowers.npz daisy.jpg   # centre-cropped, grayscale, resized
    """
    from nbae.cli.inputs import load_model, matrix_csv, resolve_inputs, write_matrix

    _check_out(output, (".csv", ".npy"))
    ae = load_model(model)
    X, labels = resolve_inputs(ae, inputs)
    Z = ae.encode(X)
    if output is None:
        click.echo(matrix_csv(Z, "z", labels), nl=False)
    else:
        write_matrix(output, Z, "z", labels)
        _echo_err(f"wrote {len(Z)} code(s) to {output}")


# ------------------------------------------------------------------------------ decode


@main.command(context_settings={**CONTEXT, "ignore_unknown_options": True})
@_MODEL_ARG
@click.argument("codes", nargs=-1, required=True)
@_output_option(IMAGE_OUT, "(text art for glyph models, else CSV)")
@_FORMAT_OPTION
@_friendly
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

    _check_out(output, IMAGE_OUT)
    ae = load_model(model)
    Z, labels = parse_codes(codes, ae.latent_dim, stdin=sys.stdin)
    images = ae.decode(Z)
    titles = labels or [str(i) for i in range(len(Z))]
    if output is not None and str(output).lower().endswith(".png") and not labels:
        from nbae.figures import format_code

        titles = [format_code(z) for z in Z]  # the code each image was decoded from
    _show_images(ae, images, titles, output, fmt, png_title=f"Decoded from {model}")


# ------------------------------------------------------------------------------ interpolate


@main.command(context_settings=CONTEXT)
@_MODEL_ARG
@click.argument("a")
@click.argument("b")
@click.option("--steps", type=click.IntRange(min=2), default=9,
              help="Points on the line, both ends included.")
@_output_option(IMAGE_OUT, "(text art for glyph models, else CSV)")
@_FORMAT_OPTION
@_friendly
def interpolate(model, a, b, steps, output, fmt):
    """Decode the straight latent path from input A to input B (glyphs or files).

    \b
    Examples:
      nbae interpolate font.npz k h --steps 7
      nbae interpolate font.npz a o -o a-to-o.png
    """
    from nbae.cli.inputs import InputError, image_shape, load_model, pixel_range, resolve_inputs
    from nbae.engine.latent import interpolate as walk

    suffix = _check_out(output, IMAGE_OUT)
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
        _echo_err(f"wrote {steps} image(s) to {output}")
        return
    _show_images(ae, images, titles, output, fmt)


# ------------------------------------------------------------------------------ denoise


@main.command(context_settings=CONTEXT)
@_MODEL_ARG
@click.argument("inputs", nargs=-1, required=True)
@click.option("--noise", "level", type=click.FloatRange(min=0), default=0.1,
              help="Flip/mask probability per pixel, or the gaussian standard deviation.")
@click.option("--kind", type=click.Choice([k for k in NOISE_KINDS if k != "none"]),
              default="flip", help="Noise model (see nbae.data.noise).")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the noise.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write a figure (.png) or the arrays (.npy: clean, noisy, restored stacked) "
                   "instead of the text summary.")
@_friendly
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
        ascii_grid,
        image_shape,
        is_glyph_model,
        load_model,
        pixel_range,
        resolve_inputs,
    )
    from nbae.data.metrics import pixel_errors
    from nbae.data.noise import add_noise

    suffix = _check_out(output, (".png", ".npy"))
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
        _echo_err(f"wrote clean, noisy and restored ({len(X)} each) to {output}")
        return
    if suffix == ".png":
        shape = image_shape(ae)
        if shape is None:
            raise InputError(f"{output}: the model records no image shape; write .npy")
        from nbae.figures import plot_denoising

        plot_denoising(X, {level: (noisy, restored)}, shape, rng, output, labels=labels,
                       title=f"Denoising ({kind} noise)")
        _echo_err(f"wrote {output}")
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


# ------------------------------------------------------------------------------ generate


@main.command(context_settings=CONTEXT)
@_MODEL_ARG
@click.option("-n", "--count", type=click.IntRange(min=1), default=8, help="Samples to draw.")
@click.option("--seed", type=click.IntRange(min=0), default=0)
@click.option("--scale", type=click.FloatRange(min=0), default=1.0,
              help="Widen (>1) or narrow (<1) the distribution of the training codes.")
@_output_option(IMAGE_OUT, "(text art for glyph models, else CSV)")
@_FORMAT_OPTION
@_friendly
def generate(model, count, seed, scale, output, fmt):
    """Decode random codes drawn from a Gaussian fitted to the training codes.

    Text output titles each sample with its nearest training label (~k) in latent space.

    \b
    Examples:
      nbae generate font.npz -n 8 --seed 1
      nbae generate flowers.npz -n 16 -o samples.png
    """
    from nbae.cli.inputs import load_model, stored_inputs
    from nbae.engine.latent import nearest, sample_codes

    _check_out(output, IMAGE_OUT)
    ae = load_model(model)
    Z = sample_codes(ae, count, seed=seed, scale=scale)
    images = ae.decode(Z)
    labels, train = stored_inputs(ae)
    if train is not None:
        idx, _ = nearest(Z, ae.encode(train))
        titles = [f"~{labels[i]}" for i in idx]
    else:
        titles = [str(i) for i in range(count)]
    _show_images(ae, images, titles, output, fmt, png_title="Generated samples")


# ------------------------------------------------------------------------------ info


def _model_summary(path: Path, ae) -> dict:
    from nbae.cli.inputs import image_shape, pixel_range

    meta = ae.metadata
    labels = meta.get("labels") or []
    info = {
        "file": str(path), "sizes": list(ae.sizes), "latent_dim": ae.latent_dim,
        "n_params": ae.n_params, "activations": list(ae.activations), "config": ae.config(),
        "training": dict(ae.training),
        "data": {"dataset": meta.get("dataset"), "n_labels": len(labels),
                 "labels": labels if len(labels) <= 64 else labels[:64] + ["..."],
                 "pixel_range": list(pixel_range(ae)), "image_shape": image_shape(ae),
                 "has_train_inputs": meta.get("train_inputs") is not None},
        "latent_stats": meta.get("latent_stats"),
    }
    if info["data"]["image_shape"] is not None:
        info["data"]["image_shape"] = list(info["data"]["image_shape"])
    from nbae.cli.inputs import is_glyph_model, stored_inputs

    glyph_labels, train = stored_inputs(ae)
    if train is not None:
        from nbae.data.metrics import pixel_errors

        out = ae.reconstruct(train)
        rmse = float(((out - train) ** 2).mean() ** 0.5)
        info["train_metrics"] = {"loss": ae.loss(train), "rmse": rmse}
        if is_glyph_model(ae):
            err = pixel_errors(train, out, pixel_range(ae))
            info["train_metrics"].update({
                "max_pixel_error": int(err.max()), "mean_pixel_error": float(err.mean()),
                "glyphs_over_1": [glyph_labels[i] for i in range(len(err)) if err[i] > 1]})
    return info


@main.command(context_settings=CONTEXT)
@_MODEL_ARG
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_friendly
def info(model, as_json):
    """Architecture, parameter count, training settings and final metrics of MODEL.

    \b
    Examples:
      nbae info font.npz
      nbae info font.npz --json | python -m json.tool
    """
    from nbae.cli.inputs import load_model

    ae = load_model(model)
    s = _model_summary(model, ae)
    if as_json:
        click.echo(json.dumps(s, indent=2, allow_nan=False, default=str))
        return
    t, d, c = s["training"], s["data"], s["config"]
    rows = [
        ("model", s["file"]),
        ("architecture", f"{'-'.join(map(str, s['sizes']))} (latent {s['latent_dim']})"),
        ("parameters", f"{s['n_params']:,} ({ae.dtype.name})"),
        ("activations", ", ".join(s["activations"])),
        ("loss / init", f"{c['loss']} / {c['init']}, seed {c['seed']}"),
    ]
    if d["dataset"]:
        shape = "x".join(map(str, d["image_shape"])) if d["image_shape"] else "?"
        labels = " ".join(d["labels"]) if d["n_labels"] <= 40 else f"{d['n_labels']} labels"
        rows.append(("data", f"{d['dataset']}: {labels}"))
        rows.append(("images", f"{shape} pixels in [{d['pixel_range'][0]:g}, "
                               f"{d['pixel_range'][1]:g}]"))
    if t:
        rows.append(("training", f"{t.get('optimizer')} lr={t.get('lr'):g}, batch "
                                 f"{t.get('batch_size')}, {t.get('epochs_run')}/{t.get('epochs')} "
                                 f"epochs ({t.get('stop_reason')}) in {t.get('seconds', 0):.1f} s"))
        if t.get("best_loss") is not None:
            rows.append(("loss", f"final {t['final_loss']:.6g}, best {t['best_loss']:.6g} at "
                                 f"epoch {t['best_epoch']}"
                                 + (" (restored)" if t.get("restored_best") else "")))
    else:
        rows.append(("training", "none recorded"))
    m = s.get("train_metrics")
    if m:
        line = f"loss {m['loss']:.6g}, rmse {m['rmse']:.4g}"
        if "max_pixel_error" in m:
            over = m["glyphs_over_1"]
            line += (f", wrong pixels max {m['max_pixel_error']} mean "
                     f"{m['mean_pixel_error']:.3g}; over 1: {' '.join(over) if over else 'none'}")
        rows.append(("on train set", line))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k.ljust(width)}  {v}")


if __name__ == "__main__":  # pragma: no cover
    main()


def _register_explore() -> None:
    # imported here, not at the top: nbae.cli.explore imports this module lazily
    from nbae.cli.explore import explore

    main.add_command(explore)


_register_explore()
