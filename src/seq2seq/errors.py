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


class TrainingError(Seq2SeqError):
    """Training cannot go on: the loss or the gradient became NaN or infinite, or exploded.

    Raised before anything of the bad state is saved, so the run's last checkpoint stays good.
    """


class ServeError(Seq2SeqError):
    """A request to the translation server is malformed, too large or not allowed.

    `status` is the HTTP status the server answers with (400, 403, 413, 503); the message is the
    one sentence the client reads.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class AudioError(DataError):
    """An audio file is missing, unreadable, empty, silent, too long or (in strict mode) at the
    wrong sample rate; the message names the file."""
