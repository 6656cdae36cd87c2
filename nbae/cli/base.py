"""What every ``nbae`` command shares: error translation, the command class, common options.

Kept apart from :mod:`nbae.cli.app` (the group) so that the command modules can import it at
the top without a circular import. Only click and the engine's name tables are imported here:
``nbae --help`` must not load NumPy kernels, Numba or matplotlib.

Errors are one ``Error: ...`` line: exit status 2 for bad usage or input (an option value, a
file), 1 for failures while running, 130 when training is interrupted. Set ``NBAE_DEBUG=1`` to
see the traceback of an unexpected exception instead of its one-line summary.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}
IMAGE_OUT = (".png", ".npy", ".csv")


class InputUsageError(click.UsageError):
    """A usage error about a value or file: one ``Error:`` line, no usage text (exit 2)."""

    def show(self, file=None):
        click.echo(f"Error: {self.format_message()}", err=True, file=file)


# click's own "no arguments: show the help" signal (click >= 8.2) is left as it is
_KEEP = (InputUsageError,) + tuple(
    c for c in [getattr(click.exceptions, "NoArgsIsHelpError", None)] if c is not None)


def _one_line_usage(exc: click.UsageError, info_name) -> InputUsageError:
    where = exc.ctx.command_path if exc.ctx is not None else info_name
    return InputUsageError(f"{_one_line(exc.format_message())} (see '{where} -h')")


class Command(click.Command):
    """A click command whose option errors are one line naming the option (exit 2).

    Click prints the usage and a hint before a bad option value; here the one ``Error:`` line
    ends with where to find help instead.
    """

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _KEEP:
            raise
        except click.UsageError as exc:
            raise _one_line_usage(exc, info_name) from None


class Group(click.Group):
    """The command group, with the same one-line errors (an unknown command, a bad option)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _KEEP:
            raise
        except click.UsageError as exc:
            raise _one_line_usage(exc, info_name) from None

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except _KEEP:
            raise
        except click.UsageError as exc:
            raise _one_line_usage(exc, ctx.info_name) from None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def friendly(fn):
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
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # the reader of stdout went away (``nbae encode m.npz k | head -1``): stop quietly,
            # as shell tools do (status 141, SIGPIPE's); stdout goes to /dev/null so the exit
            # flush cannot fail a second time
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(141) from None
        except Exception as exc:
            if os.environ.get("NBAE_DEBUG"):
                raise
            raise translate(exc) from None

    return wrapper


def translate(exc: Exception) -> click.ClickException:
    """The one-line click error for an exception raised inside a command."""
    from nbae.errors import InputError, TrainingDiverged

    msg = _one_line(exc) or type(exc).__name__
    if isinstance(exc, InputError):
        return InputUsageError(msg)
    if isinstance(exc, TrainingDiverged):
        return click.ClickException(f"training diverged: {msg}; nothing written")
    if isinstance(exc, OSError) and exc.filename is not None:
        return click.ClickException(f"{exc.filename}: {exc.strerror or msg}")
    if isinstance(exc, UnicodeDecodeError):
        return InputUsageError(f"an input is not UTF-8 text ({msg})")
    if isinstance(exc, (ValueError, OSError)):  # ModelFileError, FontFormatError, ...
        return click.ClickException(msg)
    if isinstance(exc, MemoryError):
        return click.ClickException(f"out of memory ({msg}); try smaller sizes")
    # the last line of defence: a bug, not bad input; NBAE_DEBUG=1 shows the traceback
    return click.ClickException(f"unexpected {type(exc).__name__}: {msg} "
                                "(NBAE_DEBUG=1 shows the traceback)")


def echo_err(msg: str) -> None:
    click.echo(msg, err=True)


# ---------------------------------------------------------------------------------- options

MODEL_ARG = click.argument("model", type=click.Path(path_type=Path, dir_okay=False))

FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["auto", "ascii", "csv"]), default="auto",
    help="Stdout format: text art (auto for small bitmap models such as the font) or CSV.")


def output_option(kinds, default_help):
    return click.option(
        "-o", "--output", type=click.Path(path_type=Path, dir_okay=False, allow_dash=False),
        help=f"Write to a file ({', '.join(kinds)}) instead of stdout {default_help}.")


def check_out(output, kinds, inputs=()):
    """Suffix of ``output`` (None without one) once it is known writable and not an input."""
    from nbae.cli.checks import check_writable, refuse_overwriting_inputs
    from nbae.cli.outputs import check_output

    if output is None:
        return None
    suffix = check_output(output, kinds)
    check_writable(output)
    refuse_overwriting_inputs({"--output": output}, inputs)
    return suffix


def show_images(ae, images, titles, output, fmt="auto", png_title=None):
    """Images to a file (by suffix), or to stdout as text art (glyph models) or CSV."""
    from nbae.cli.inputs import image_shape, is_glyph_model, pixel_range
    from nbae.cli.outputs import ascii_grid, matrix_csv, write_images

    if output is not None:
        write_images(output, images, ae, titles=titles, title=png_title)
        echo_err(f"wrote {len(images)} image(s) to {output}")
        return
    if fmt == "ascii" or (fmt == "auto" and is_glyph_model(ae)):
        shape = image_shape(ae)
        if shape is None:
            raise InputUsageError("the model records no image shape; use --format csv")
        click.echo(ascii_grid([images], shape, pixel_range(ae), titles=titles))
    else:
        click.echo(matrix_csv(images, "x", titles), nl=False)
