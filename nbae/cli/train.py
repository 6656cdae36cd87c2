"""``nbae train``: settings from options and/or a params section, training, and saving.

The model and its history are written all-or-nothing: both new files, or both old ones (see
:func:`save_trained`). Everything the user passed is checked before training starts.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click

from nbae.cli import checks
from nbae.cli.base import CONTEXT, Command, InputUsageError, echo_err, friendly
from nbae.cli.checks import FiniteFloat
from nbae.engine.codes import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS

_MODEL_OPTS = ("layers", "activation", "latent_activation", "output_activation", "loss", "init",
               "seed", "dtype")
_FIT_OPTS = ("optimizer", "lr", "batch_size", "epochs", "epoch_loss")


@click.command(cls=Command, context_settings=CONTEXT)
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
@click.option("--layers", callback=checks.layers_option, metavar="N,N,...",
              show_default="from --params",
              help=f"Encoder sizes, input first, latent last; each at most {checks.MAX_WIDTH:,}, "
                   f"the whole network at most {checks.MAX_PARAMS:,} parameters.")
@click.option("--activation", callback=checks.activation_option, metavar="NAME[,NAME...]",
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
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), show_default="0.001",
              help="Learning rate.")
@click.option("--batch-size", type=click.IntRange(min=1), show_default="5")
@click.option("--epochs", type=click.IntRange(min=1, max=checks.MAX_EPOCHS),
              show_default="1000", help=f"Passes over the data (at most {checks.MAX_EPOCHS:,}).")
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
@click.option("--vae", is_flag=True, help="Train a variational autoencoder (heads mu and log "
              "sigma^2; loss: reconstruction summed over pixels + beta * KL, mean over the "
              "batch).")
@click.option("--beta", type=FiniteFloat(min=0), default=None, show_default="1.0",
              help="KL weight of a --vae model (1: the ELBO).")
@click.option("--kl-warmup", type=click.IntRange(min=0, max=checks.MAX_EPOCHS), default=None,
              show_default="0", help="Epochs over which a --vae model's KL weight rises "
              "linearly to --beta.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or log lines.")
@click.pass_context
@friendly
def train(ctx, params_file, section, data, font_file, font_name, encoding, output, history,
          quiet, **options):
    """Train an autoencoder and save it with its per-epoch history.

    Settings come from a params.yaml section (--params/--section) and/or options; options win.
    Ctrl-C stops training early: the best weights so far are saved (exit status 130). The
    model and history are replaced together or not at all.

    \b
    Examples:
      nbae train --layers 35,25,15,5,2 --epochs 20000 -o font.npz
      nbae train --params params.yaml --section architectures.7 --epochs 500
      nbae train --data data/flowers/prepared/flowers.npz --layers 1024,256,32 \\
                 --output-activation tanh -o flowers.npz
    """
    from nbae.cli.inputs import DATA_KEYS, load_dataset
    from nbae.errors import InputError

    vae = options.pop("vae")
    vae_opts = {k: options.pop(k) for k in ("beta", "kl_warmup")}
    if not vae and any(v is not None for v in vae_opts.values()):
        raise InputUsageError("--beta and --kl-warmup need --vae")
    cfg, where, history = _settings(params_file, section, output, history, options)
    if vae:
        cfg.update({k: v for k, v in vae_opts.items() if v is not None})
        if cfg.pop("latent_activation", None) not in (None, "identity"):
            raise InputUsageError("--latent-activation does not apply to --vae (its mu and "
                                  "log sigma^2 heads are linear)")
        if cfg.pop("epoch_loss", "running") != "running":
            raise InputUsageError("--epoch-loss full does not apply to --vae (its loss is "
                                  "sampled)")
    data_cfg = {k: cfg.pop(k) for k in DATA_KEYS if k in cfg}
    if data == "font" and "data" in data_cfg:
        data = data_cfg["data"]
    encoding = encoding or data_cfg.get("encoding", "binary")
    inputs = [params_file, font_file if data == "font" else Path(data)]
    checks.refuse_overwriting_inputs({"--output": output, "--history": history}, inputs)
    ds = load_dataset(data, font_file=font_file, font_name=font_name, encoding=encoding)
    n, width = ds.X.shape
    layers = cfg["layers"]
    if layers[0] != width:
        raise InputError(f"layers {layers} do not fit the data: {ds.name} has {width} values "
                         f"per sample, so the first size must be {width}")
    decoder = cfg.get("decoder") or layers[::-1]
    checks.check_size(layers + list(decoder)[1:], "--layers" if options.get("layers") else where)
    low = ds.pixel_range[0]
    if low < 0 and cfg.get("output_activation", "sigmoid") in ("sigmoid", "softmax", "relu"):
        echo_err(f"warning: {ds.name} pixels reach {low} but output activation "
                 f"{cfg.get('output_activation', 'sigmoid')!r} cannot; consider "
                 "--output-activation tanh")

    from nbae.studies.experiment import fit_from_config, latent_stats, model_from_config

    if vae:
        from nbae.studies.vae import fit_vae_from_config as fit_from_config  # noqa: F811
        from nbae.studies.vae import vae_from_config as model_from_config  # noqa: F811
    try:
        ae = model_from_config(cfg, metadata=ds.model_metadata(), where=where)
        # a zero-epoch fit of a twin runs fit's own checks of every training setting now,
        # before any message or work, without touching the real model's random streams
        fit_from_config(model_from_config(cfg, where=where), {**cfg, "epochs": 0}, ds.X[:1],
                        where=where)
    except (ValueError, TypeError, OverflowError) as exc:
        msg = " ".join(str(exc).split())
        raise InputError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    epochs = int(cfg.get("epochs", 1000))
    tty = sys.stderr.isatty() and not quiet
    fit_opts = {"progress": tty}
    if not tty and not quiet:
        # plain lines for logs (DVC, pipes): about ten per run
        fit_opts.update(callback=_log_callback(epochs), callback_every=max(1, epochs // 10))
    if not quiet:
        echo_err(f"training {'-'.join(map(str, ae.sizes))} ({ae.n_params:,} parameters) on "
                 f"{ds.name}: {n} samples x {width}, {epochs} epochs")
    interrupted = False
    try:
        fit_from_config(ae, cfg, ds.X, where=where, **fit_opts)
    except KeyboardInterrupt:
        interrupted = True
    except (ValueError, TypeError) as exc:
        if ae.training:  # raised while training: not a settings problem
            raise
        msg = " ".join(str(exc).split())
        raise InputError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    if interrupted:
        if ae.history is None or len(ae.history) == 0:
            echo_err("interrupted before the first epoch finished; nothing written")
            ctx.exit(130)
    if interrupted or vae:  # fit_from_config records them after a complete plain fit
        ae.metadata["latent_stats"] = latent_stats(ae, ds.X)
    save_trained(ae, output, history)
    _report(ae, ds, output, history, epochs, interrupted, quiet, ctx)


def _settings(params_file, section, output, history, options):
    """Checked ``(config, where, history path)`` from the params section and the options."""
    from nbae.cli.inputs import load_section

    if output.suffix.lower() != ".npz":
        raise InputUsageError(f"{output}: model files end in .npz")
    history = history or output.with_name(output.stem + ".history.csv")
    if history.suffix.lower() != ".csv":
        raise InputUsageError(f"{history}: history files end in .csv")
    checks.check_writable(output)
    checks.check_writable(history)
    if checks.same_file(output, history):
        raise InputUsageError(f"{history}: the history cannot be the model file")
    cfg, where = {}, "options"
    if section is not None or params_file is not None:
        params_file = params_file or Path("params.yaml")
        where = f"{params_file}" + (f" section {section}" if section else "")
        cfg = checks.check_config(load_section(params_file, section), params_file, section)
        if "layers" not in cfg:
            from nbae.studies.experiment import check_config

            try:
                check_config(cfg, where)  # names unknown keys, e.g. a misspelt 'layers'
            except ValueError as exc:
                raise InputUsageError(str(exc)) from None
    for key in _MODEL_OPTS + _FIT_OPTS:
        if options.get(key) is not None:
            cfg[key] = options[key]
    if "layers" not in cfg:
        raise InputUsageError("no architecture: pass --layers (e.g. 35,20,2) or "
                              "--params/--section")
    return cfg, where, history


def _report(ae, ds, output, history, epochs, interrupted, quiet, ctx):
    t = ae.training
    kind = t.get("epoch_loss") or "running"
    best = (f"best epoch {t['best_epoch']}, {kind} loss {t['best_loss']:.6g}"
            if t.get("best_loss") is not None else "no finite loss")
    saved = ae.loss(ds.X)  # what the file holds, not the running mean of the best epoch
    best += f"; loss of the saved weights {saved:.6g} on the training set"
    if interrupted:
        echo_err(f"interrupted after {t['epochs_run']} of {epochs} epochs; saved the best "
                 f"weights ({best}) to {output}, history to {history}")
        ctx.exit(130)
    if not quiet:
        echo_err(f"saved {output} ({best}, {t['seconds']:.1f} s); history {history}")


def save_trained(ae, output: Path, history: Path) -> None:
    """Write the model and its history: both new files, or both old files; errors name them.

    Both are written to temporary files beside their targets. Before the two renames the old
    model (if any) gets a hard-linked backup; if renaming the history fails, or Ctrl-C lands
    between the renames, the backup is renamed back, so the user's old model and history are
    what remains. A brand-new model is removed again instead.
    """
    from nbae import fileio

    target, backup, moved = history, None, False
    try:
        with fileio.atomic_path(history) as tmp_history:
            target = output
            with fileio.atomic_path(output) as tmp_model:
                ae.save(tmp_model)
                target = history
                ae.history.to_csv(tmp_history, index=False)
                target = output
                backup = _backup(output)
                moved = True  # from here on the new model may be in place: undo on failure
            target = history
    except BaseException as exc:
        note = ""
        if moved:
            note = _restore(output, backup)
        elif backup is not None:
            with contextlib.suppress(OSError):
                backup.unlink()
        kept = note or ("; the previous model and history are unchanged" if backup else "")
        if isinstance(exc, KeyboardInterrupt):
            echo_err(f"interrupted while saving: no model or history written{kept}")
            raise click.exceptions.Exit(130) from None
        if isinstance(exc, OSError):
            reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
            raise click.ClickException(f"{target}: cannot write ({reason}); "
                                       f"no model or history written{kept}") from None
        raise
    if backup is not None:
        with contextlib.suppress(OSError):
            backup.unlink()


def _backup(path: Path) -> Path | None:
    """A hard link (or, where links are refused, a copy) of ``path`` beside it; None if absent."""
    import shutil
    import tempfile

    if not path.exists():
        return None
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".backup", dir=path.parent)
    os.close(fd)
    backup = Path(name)
    try:
        backup.unlink()
        os.link(path, backup)
    except OSError:
        shutil.copy2(path, backup)
    return backup


def _restore(output: Path, backup: Path | None) -> str:
    """Put the old model back (or remove a new one that had no predecessor).

    Returns "" when done, else a note for the error message saying where the old model is.
    """
    if backup is None:
        with contextlib.suppress(OSError):
            output.unlink()
        return ""
    try:
        if _same_bytes(output, backup):  # the model's own rename failed: nothing to undo
            backup.unlink()
        else:
            os.replace(backup, output)
    except OSError:
        return f"; the previous model is kept in {backup}"
    return ""


def _same_bytes(a: Path, b: Path) -> bool:
    import filecmp

    try:
        return os.path.samefile(a, b) or filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _log_line(epoch: int, total: int, loss: float) -> None:
    echo_err(f"epoch {epoch}/{total}  loss {loss:.6g}")


def _log_callback(total: int):
    def callback(ae, history):
        if len(history):
            last = history.iloc[-1]
            _log_line(int(last["epoch"]), total, float(last["loss"]))
        return False

    return callback
