"""The `nbae` command line."""

from nbae.cli.app import main

__all__ = ["main"]
