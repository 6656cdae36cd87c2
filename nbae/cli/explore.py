"""``nbae explore``: write the interactive latent explorer page of a model.

Registered in the command group by :mod:`nbae.cli.app`.
"""

from __future__ import annotations

from pathlib import Path

import click

from nbae.cli.base import CONTEXT, Command, InputUsageError, echo_err, friendly


@click.command(cls=Command, context_settings=CONTEXT)
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              default=Path("explorer.html"), help="Page to write (.html).")
@click.option("--data", metavar="FILE",
              show_default="stored inputs; flower models: data/flowers/prepared/flowers.npz",
              help="Training inputs whose codes the page shows: a prepared flower set .npz, "
                   "or a .npy/.csv matrix, one sample per row.")
@click.option("--title", help="Page title [default: 'Latent explorer: ARCHITECTURE'].")
@friendly
def explore(model, output, data, title):
    """Write a self-contained HTML page that decodes MODEL's latent space live.

    The page embeds the decoder and runs it in the browser: no server, no network. Glyph
    models get the latent plane (hover to decode, click two glyphs for the straight-line
    transition); others get one slider per latent coordinate and the training photos.

    \b
    Examples:
      nbae explore models/font/model.npz -o font-explorer.html
      nbae explore models/flowers/model.npz --data data/flowers/prepared/flowers.npz \\
                   -o flowers-explorer.html
    """
    from nbae.cli.checks import check_writable, refuse_overwriting_inputs
    from nbae.cli.inputs import load_model
    from nbae.explorer import format_bytes, write_explorer

    if output.suffix.lower() not in (".html", ".htm"):
        raise InputUsageError(f"{output}: explorer pages end in .html")
    check_writable(output)
    refuse_overwriting_inputs({"--output": output}, [model, data])
    ae = load_model(model)
    try:
        info = write_explorer(ae, output, data=data, title=title)
    except OSError as exc:  # the disk filled up or the folder vanished while writing
        reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
        raise click.ClickException(f"{output}: cannot write ({reason}); nothing written") \
            from None
    echo_err(f"wrote {output} ({format_bytes(info['bytes'])}: {info['layout']} layout, "
              f"latent size {info['latent_dim']}, {info['inputs']} training inputs); open it "
              "in a web browser")
