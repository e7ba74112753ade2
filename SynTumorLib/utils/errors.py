"""Exception types. The CLI turns every ``SynTumorError`` into a one-line message and exit code 2.

Raise ``InputError`` for bad user input (name the file and the problem), ``ModelFolderError`` for a
corrupt, truncated or mismatched model folder.
"""


class SynTumorError(Exception):
    """Base class of every error SynTumorLib raises on purpose."""


class InputError(SynTumorError, ValueError):
    """Bad input: a missing/unreadable file, wrong dimensionality, NaN, geometry mismatch, ..."""


class ModelFolderError(SynTumorError):
    """A model folder is missing files, corrupt, truncated or made for another architecture."""


class CancelledError(SynTumorError):
    """Long work was cancelled by the user."""
