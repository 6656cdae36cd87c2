"""params.yaml for the study stages: loading, section checks, validators and stage exit codes.

The studies (:mod:`nbae.studies.font`, :mod:`~nbae.studies.flowers`, :mod:`~nbae.studies.denoising`)
read their settings from the config files (config/*.yaml), mappings of sections::

    train_font:    {seed, metric_every, max_wrong}
    flowers_train: {epochs}
    denoise:       {kind, levels, copies, ...}

Conventions:

- Each study declares the defaults of a section; :func:`section` fills in missing settings
  from them and rejects settings it does not know, so a typo fails loudly instead of being
  ignored. A missing or empty section means "all defaults".
- Every problem with the settings raises :class:`ParamsError` (a ``ValueError``), whichever
  study finds it, with a message naming the setting (``params flowers_train.epochs must be
  ...``).
- The DVC stage scripts run their ``main`` through :func:`run_stage`, which prints a failure
  as one ``error: ...`` line on stderr and returns the exit status: 2 for bad params
  (:class:`ParamsError`), 1 for runtime failures (missing inputs, diverged training, I/O, any
  other ``ValueError``/``OSError``/``KeyError``/``FloatingPointError``), 0 on success.
- A model config (an :mod:`nbae.studies.experiment` entry) goes through :func:`model_config`, which
  rejects what the model accepts but a stage cannot use, e.g. ``epochs: 0`` (no final loss).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from nbae.errors import InputError, ParamsError, TrainingDiverged

__all__ = ["ParamsError", "integer", "integer_list", "load_params", "model_config", "number",
           "run_stage", "section", "stage_parser", "study_model_config"]


def _unique_keys_loader():
    """A safe YAML loader that refuses a key given twice in one mapping (YAML's own loaders
    keep the last one silently, so a setting written twice would be half ignored)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader, node):
        loader.flatten_mapping(node)
        keys = [loader.construct_object(k, deep=True) for k, _ in node.value]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", node.value[i][0].start_mark)
        return loader.construct_mapping(node, deep=True)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def load_params(path="params.yaml") -> dict:
    """The whole params file as a dict of sections; :class:`ParamsError` if unreadable."""
    import yaml

    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_unique_keys_loader())
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping of sections")
    return data


def section(params: dict, name: str, defaults: dict) -> dict:
    """Section ``name`` of ``params`` merged over ``defaults``; unknown settings are errors."""
    sec = params.get(name) or {}
    if not isinstance(sec, dict):
        raise ParamsError(f"params '{name}' must be a mapping")
    unknown = sorted(set(sec) - set(defaults))
    if unknown:
        raise ParamsError(f"params '{name}': unknown setting(s) {unknown}; known: "
                          f"{sorted(defaults)}")
    return {**defaults, **sec}


# ---------------------------------------------------------------------------------------------
# validators: ``where`` names the setting in messages ("flowers_train.epochs")


def integer(value, where, minimum) -> int:
    """``value`` as an int, which must be at least ``minimum`` (booleans are not integers)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParamsError(f"params {where} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def integer_list(value, where, minimum) -> list[int]:
    """A non-empty list of integers, each at least ``minimum``."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ParamsError(f"params {where} must be a non-empty list of integers, got {value!r}")
    return [integer(v, where, minimum) for v in value]


def number(value, where, positive=True) -> float:
    """A finite number (int or float, not bool) as a float; > 0 unless ``positive=False``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or (positive and value <= 0):
        raise ParamsError(f"params {where} must be a {'positive ' if positive else ''}number, "
                          f"got {value!r}")
    return float(value)


def model_config(cfg, where) -> dict:
    """Checked copy of an :mod:`nbae.studies.experiment` config (``where``: ``architectures.7``).

    The model and ``fit`` check most settings themselves; this catches, before any training,
    the values they accept but that break a stage afterwards (``epochs: 0`` trains nothing,
    so there is no final loss to report) and the types they would trip over with a
    ``TypeError``. Unknown keys are left to :func:`nbae.studies.experiment.check_config`
    (see :func:`study_model_config`).
    """
    if not isinstance(cfg, dict):
        raise ParamsError(f"params {where} must be a mapping of settings (layers, activation, "
                          f"...), got {cfg!r}")
    cfg = dict(cfg)
    for key in ("epochs", "batch_size"):  # a stage needs at least one epoch to report on
        if key in cfg:
            cfg[key] = integer(cfg[key], f"{where}.{key}", 1)
    act = cfg.get("activation")
    if "activation" in cfg and not isinstance(act, str) and not (
            isinstance(act, (list, tuple)) and act and all(isinstance(a, str) for a in act)):
        raise ParamsError(f"params {where}.activation must be a name (e.g. tanh) or a list of "
                          f"names, one per hidden layer, got {act!r}")
    if "reproducible" in cfg and not isinstance(cfg["reproducible"], bool):
        raise ParamsError(f"params {where}.reproducible must be true or false, got "
                          f"{cfg['reproducible']!r}")
    betas = cfg.get("betas")
    if "betas" in cfg and not (isinstance(betas, (list, tuple)) and len(betas) == 2 and all(
            isinstance(b, (int, float)) and not isinstance(b, bool) for b in betas)):
        raise ParamsError(f"params {where}.betas must be two numbers, e.g. [0.9, 0.999], "
                          f"got {betas!r}")
    return cfg


def study_model_config(cfg, where) -> dict:
    """:func:`model_config` plus :func:`nbae.studies.experiment.check_config` (unknown keys,
    names), as :class:`ParamsError`: a study's model config holds model and training keys only.
    """
    from nbae.studies.experiment import check_config

    cfg = model_config(cfg, where)
    try:
        check_config(cfg, where=where)
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
    return cfg


# ---------------------------------------------------------------------------------------------
# stage scripts


def stage_parser(doc: str, *positional: str) -> argparse.ArgumentParser:
    """Argument parser of a stage script: ``doc``'s first line, then the ``positional`` paths.

    Paths are given once, in dvc.yaml's ``cmd`` (no defaults here to keep in sync).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name in positional:
        parser.add_argument(name)
    return parser


def run_stage(main, argv=None) -> int:
    """Run a stage's ``main(argv)``; turn expected failures into one ``error:`` line.

    Bad params exit 2, runtime failures (missing inputs, diverged training, I/O) exit 1.
    """
    try:
        return int(main(argv) or 0)
    except InputError as exc:  # ParamsError and other bad input: a usage error
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except TrainingDiverged as exc:
        print(f"error: training diverged: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM during a download
        print("error: interrupted; outputs already written are complete, the rest were not "
              "written", file=sys.stderr)
        return 128 + int(getattr(exc, "signum", 2))
    except (ValueError, OSError, KeyError, FloatingPointError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
