"""The ``nbae`` command line: train, inspect and use autoencoders from the shell.

The map: this module is the command group; each command lives in its own module --
:mod:`~nbae.cli.train`, :mod:`~nbae.cli.latent` (encode, decode, interpolate, generate),
:mod:`~nbae.cli.denoise`, :mod:`~nbae.cli.info`, :mod:`~nbae.cli.explore` -- over
:mod:`~nbae.cli.base` (error translation, shared options), :mod:`~nbae.cli.checks` (option
and config validators, caps, output-path checks), :mod:`~nbae.cli.inputs` (what users pass:
data sets, models, glyphs, codes, images) and :mod:`~nbae.cli.outputs` (what commands write).

Data goes to stdout and messages to stderr, so commands pipe (``nbae encode m.npz k h |
nbae decode m.npz -``). Heavy modules (NumPy kernels, Numba, matplotlib) are imported inside
the commands: ``nbae --help`` stays fast. Errors are one ``Error: ...`` line: exit status 2 for
bad usage or input, 1 for failures while running, 130 when training is interrupted.
"""

from __future__ import annotations

import click

from nbae import __version__
from nbae.cli.base import (  # noqa: F401  (the names nbae.cli.explore and tests use)
    CONTEXT,
    Group,
    InputUsageError,
    echo_err,
    friendly,
    translate,
)
from nbae.cli.checks import check_writable, same_file  # noqa: F401
from nbae.cli.denoise import denoise
from nbae.cli.explore import explore
from nbae.cli.info import info
from nbae.cli.latent import decode, encode, generate, interpolate
from nbae.cli.train import train

# the names of the single-module CLI, kept for nbae.cli.explore's users and older tests
_friendly, _translate, _echo_err, _check_writable, _same_file = (
    friendly, translate, echo_err, check_writable, same_file)


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="nbae")
def main():
    """Numba-accelerated dense autoencoders: train, encode, decode, explore.

    \b
    Quick start on the course font (data/font.h):
      nbae train --layers 35,25,15,5,2 --epochs 20000 -o font.npz
      nbae encode font.npz k h
      nbae decode font.npz 0.5,-0.2
      nbae interpolate font.npz k h --steps 7

    Errors are one line: exit status 2 for bad usage or input, 1 for failures while running,
    130 after Ctrl-C (NBAE_DEBUG=1 shows the traceback of an unexpected error).
    """


for _command in (train, encode, decode, interpolate, denoise, generate, info, explore):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
