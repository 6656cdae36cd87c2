"""The command line's validators: option types with caps, config sections, output paths.

One validator of each kind for every command. Values from a ``--params`` section go through
:func:`nbae.studies.params.model_config` (the stages' checks) and the type checks below, so a
wrongly typed setting is an ``Error:`` line naming the file and setting (exit 2), never a
``TypeError`` from deep inside NumPy. The caps keep absurd sizes from allocating gigabytes
(``MemoryError``) or running for days; ``--help`` states them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import click

from nbae.errors import InputError

# Caps (stated in --help): far above any use of a CPU autoencoder, far below a MemoryError.
MAX_WIDTH = 100_000  # units in one layer
MAX_PARAMS = 20_000_000  # weights + biases: ~0.8 GB of float64 training state with Adam
MAX_EPOCHS = 10_000_000  # the per-epoch history is kept in memory and written as CSV
MAX_COUNT = 100_000  # images made by one command (--steps, -n)
MAX_SCALE = 1_000.0  # generate --scale; larger spreads overflow the covariance
MAX_NOISE = 1_000.0  # denoise --noise (gaussian standard deviation)


class FiniteFloat(click.FloatRange):
    """A float option in a range that also refuses ``nan`` and ``inf`` (FloatRange lets nan by)."""

    name = "finite float"

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


def parse_int_list(text) -> list[int]:
    """``"35,20,2"`` -> ``[35, 20, 2]``: positive integers up to :data:`MAX_WIDTH`."""
    try:
        values = [int(v) for v in str(text).replace(" ", "").split(",") if v != ""]
    except ValueError:
        raise InputError(f"expected comma-separated integers like 35,20,2, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise InputError(f"expected positive integers like 35,20,2, got {text!r}")
    return check_widths(values)


def check_widths(values, name: str = "") -> list[int]:
    """Layer widths: each at most :data:`MAX_WIDTH` (an InputError, naming ``name`` if given)."""
    big = [v for v in values if v > MAX_WIDTH]
    if big:
        raise InputError(f"{name + ': ' if name else ''}layer width {big[0]:,} is over the "
                         f"limit of {MAX_WIDTH:,}")
    return list(values)


def layers_option(ctx, param, value):
    """click callback of ``--layers``: an input and a latent size at least, capped widths."""
    if value is None:
        return None
    try:
        layers = parse_int_list(value)
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None
    if len(layers) < 2:
        raise click.BadParameter("needs an input and a latent size at least, e.g. 35,20,2")
    return layers


def activation_option(ctx, param, value):
    """click callback of ``--activation``: one name, or a comma-separated list of names."""
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


# ---------------------------------------------------------------------------------- configs

_NAME_KEYS = ("latent_activation", "output_activation", "loss", "init", "optimizer", "dtype",
              "epoch_loss", "data", "encoding")
_NUMBER_KEYS = ("lr", "momentum", "weight_decay", "min_delta", "leaky_slope")
_FLAG_KEYS = ("shuffle", "restore_best", "reproducible")


def check_config(cfg: dict, path, section: str | None) -> dict:
    """Types and caps of the settings at ``section`` of the params file ``path``.

    The model and ``fit`` check values (ranges, known names); this makes sure each setting has
    the type they expect, so a mistake is reported as that setting of that file (exit 2), not
    as a TypeError.
    """
    from nbae.studies.params import ParamsError

    where = section or "@"  # the studies' validators name settings "params WHERE.KEY"
    try:
        return _check_config(cfg, where)
    except ParamsError as exc:
        msg = str(exc).replace("params @.", "setting ").replace(f"params {where}", "setting "
                                                                 f"{where}")
        raise InputError(f"{path}: {msg}") from None


def _check_config(cfg: dict, where: str) -> dict:
    from nbae.studies.params import ParamsError, integer, integer_list, model_config, number

    cfg = model_config(cfg, where)  # epochs, batch_size, activation, betas
    for key in ("layers", "decoder"):
        if key in cfg and not (key == "decoder" and cfg[key] is None):
            cfg[key] = integer_list(cfg[key], f"{where}.{key}", 1)
            try:
                check_widths(cfg[key])
            except InputError as exc:
                raise ParamsError(f"params {where}.{key}: {exc}") from None
    for key in ("epochs", "patience"):
        if cfg.get(key) is not None:
            value = integer(cfg[key], f"{where}.{key}", 1)
            if value > MAX_EPOCHS:
                raise ParamsError(f"params {where}.{key} must be at most {MAX_EPOCHS:,}, "
                                  f"got {value:,}")
    for key in _NUMBER_KEYS + ("eps",):
        if key in cfg and not (key == "eps" and cfg[key] is None):
            number(cfg[key], f"{where}.{key}", positive=False)
    for key in _FLAG_KEYS:
        if key in cfg and not isinstance(cfg[key], bool):
            raise ParamsError(f"params {where}.{key} must be true or false, got {cfg[key]!r}")
    for key in _NAME_KEYS:
        if key in cfg and not isinstance(cfg[key], str):
            raise ParamsError(f"params {where}.{key} must be a name, got {cfg[key]!r}")
    noise = cfg.get("input_noise")
    if noise is not None:
        if not isinstance(noise, dict):
            raise ParamsError(f"params {where}.input_noise must be a mapping like "
                              f"{{kind: flip, level: 0.1}}, got {noise!r}")
        if "range" in noise and not (isinstance(noise["range"], (list, tuple))
                                     and len(noise["range"]) == 2):
            raise ParamsError(f"params {where}.input_noise.range must be [low, high], "
                              f"got {noise['range']!r}")
        for i, v in enumerate(noise.get("range") or ()):
            number(v, f"{where}.input_noise.range[{i}]", positive=False)
    return cfg


def check_size(sizes, where: str) -> None:
    """Refuse a network with more than :data:`MAX_PARAMS` parameters before allocating it."""
    n = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    if n > MAX_PARAMS:
        raise InputError(f"{where}: the network {'-'.join(map(str, sizes))} has {n:,} "
                         f"parameters, over the limit of {MAX_PARAMS:,}; use smaller layers")


# ---------------------------------------------------------------------------------- outputs


def check_writable(path: Path) -> None:
    """Usage error naming ``path`` unless a file can be written there (checked before work).

    The path must not be a directory or another non-regular file, and its folder must be an
    existing directory we can create files in, or creatable below the nearest existing one.
    """
    import tempfile

    from nbae.cli.base import InputUsageError

    path = Path(path)
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


def same_file(a, b) -> bool:
    """True if ``a`` and ``b`` are one file (symlinks, hard links, ``..`` all resolved)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def refuse_overwriting_inputs(outputs: dict, inputs) -> None:
    """Usage error if an output (``{"--output": path}``) is one of the ``inputs`` files."""
    from nbae.cli.base import InputUsageError

    for name, out in outputs.items():
        for src in inputs:
            if src is not None and Path(src).is_file() and same_file(out, src):
                raise InputUsageError(f"{name} {out} is an input of this command ({src}); "
                                      "refusing to overwrite it")
