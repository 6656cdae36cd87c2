"""``nbae info``: what a model file holds, as text or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from nbae.cli.base import CONTEXT, MODEL_ARG, Command, friendly


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


@click.command(cls=Command, context_settings=CONTEXT)
@MODEL_ARG
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@friendly
def info(model, as_json):
    """Architecture, parameter count, training settings and final metrics of MODEL.

    \b
    Examples:
      nbae info font.npz
      nbae info font.npz --json | python -m json.tool
    """
    from nbae.cli.inputs import load_model
    from nbae.engine.serialization import ModelFileError

    ae = load_model(model)
    try:
        s = _model_summary(model, ae)
        rows = _rows(s, ae)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ModelFileError(f"{model}: unusable metadata ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())})") from None
    if as_json:
        click.echo(json.dumps(s, indent=2, allow_nan=False, default=str))
        return
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k.ljust(width)}  {v}")


def _rows(s: dict, ae) -> list[tuple[str, str]]:
    """The text report: (label, value) rows."""
    t, d, c = s["training"], s["data"], s["config"]
    rows = [
        ("model", s["file"]),
        ("architecture", f"{'-'.join(map(str, s['sizes']))} (latent {s['latent_dim']})"),
        ("parameters", f"{s['n_params']:,} ({ae.dtype.name})"),
        ("activations", ", ".join(s["activations"])),
        ("loss / init", f"{c['loss']} / {c['init']}, seed {c['seed']}"),
    ]
    if hasattr(ae, "beta"):  # a VAE
        rows.insert(1, ("kind", f"variational autoencoder, beta {ae.beta:g}, KL warm-up "
                                f"{ae.kl_warmup} epochs"))
    if d["dataset"]:
        shape = "x".join(map(str, d["image_shape"])) if d["image_shape"] else "?"
        labels = (" ".join(map(str, d["labels"])) if d["n_labels"] <= 40
                  else f"{d['n_labels']} labels")
        rows.append(("data", f"{d['dataset']}: {labels}"))
        rows.append(("images", f"{shape} pixels in [{d['pixel_range'][0]:g}, "
                               f"{d['pixel_range'][1]:g}]"))
    if t:
        # reproducibly trained study models store no timings (their files must not differ)
        took = "" if t.get("seconds") is None else f" in {_num(t['seconds'], '.1f')} s"
        how = ", reproducible arithmetic" if t.get("engine") == "lanes" else ""
        rows.append(("training", f"{t.get('optimizer')} lr={_num(t.get('lr'), 'g')}, batch "
                                 f"{t.get('batch_size')}, {t.get('epochs_run')}/{t.get('epochs')} "
                                 f"epochs ({t.get('stop_reason')}){took}{how}"))
        if t.get("best_loss") is not None:
            rows.append(("loss", f"final {_num(t.get('final_loss'), '.6g')}, best "
                                 f"{_num(t['best_loss'], '.6g')} at epoch {t.get('best_epoch')}"
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
    return rows


def _num(value, spec: str) -> str:
    """``value`` formatted with ``spec`` if it is a number; as written otherwise.

    The training record of a model file is informational: a value of the wrong type (a null
    learning rate, a string) is shown, not a reason for a traceback.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    return format(value, spec)
