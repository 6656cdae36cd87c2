"""The project's error types, shared by every room (engine, data, studies, CLI).

Each message fits on one line and names the file, option or setting it is about. The command
line and the DVC stages report an :class:`InputError` as a usage error (exit status 2).
"""


class InputError(ValueError):
    """A bad value or file from the user; the message names it and fits on one line."""


class ParamsError(InputError):
    """params.yaml is missing a setting or holds a bad one (stages exit with status 2)."""


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite; the model keeps its best finite weights."""
