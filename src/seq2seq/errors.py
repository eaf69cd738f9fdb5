"""Errors meant for people: each carries one sentence that says what went wrong and where.

The CLI catches `Seq2SeqError` and prints its message without a traceback.
"""


class Seq2SeqError(Exception):
    """Base class of every error the toolkit reports to its user."""


class ConfigError(Seq2SeqError):
    """A configuration key is unknown, has the wrong type or an impossible value."""


class DataError(Seq2SeqError):
    """An input file is missing, unreadable, misaligned or malformed."""


class CheckpointError(Seq2SeqError):
    """A checkpoint is missing, corrupt, or does not fit the model or vocabulary asked for."""
