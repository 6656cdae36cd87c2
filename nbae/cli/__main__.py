"""``python -m nbae.cli``: the ``nbae`` command without the installed script."""

from nbae.cli.app import main

main(prog_name="nbae")
