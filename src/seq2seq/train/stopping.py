"""Stopping on request: SIGINT and SIGTERM ask a training run to stop at the next step boundary.

The first signal sets a flag the loop reads between steps (`requested`); a validation under way is
abandoned (`ValidationAbandoned`), to be done again on resume. A second signal, of either kind,
stops at once by raising `Interrupted` from wherever the program is: the last commit stands. From
then on, and once a stopped run's `catching` block ends, both signals are ignored: the process is
shutting down, and a third Ctrl-C landing in a save's clean-up, in the log's closing or in the
command's last message must not turn into a traceback (docs/reliability.md).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Training stopped on a signal (SIGINT, SIGTERM); `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class ValidationAbandoned(BaseException):
    """A stop was asked for during validation: it is dropped, to be done again on resume."""


class StopRequest:
    """The stop signals received so far, and what a new one does now."""

    def __init__(self, announce: bool = True) -> None:
        self.signum: int | None = None  # the first stop signal received
        self.announce = announce  # say what the first signal does (rank 0)
        self.abandons_validation = False  # set while a validation may be dropped

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @contextmanager
    def catching(self) -> Iterator[StopRequest]:
        """Handle SIGINT and SIGTERM in this block (on the main thread; elsewhere, and for a
        signal the process ignores, as `cmd &` makes SIGINT, nothing changes)."""
        previous = {}
        for signum in STOP_SIGNALS:
            try:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    previous[signum] = signal.signal(signum, self._on_signal)
            except ValueError:  # not the main thread (an embedding program)
                pass
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                if self.requested:  # the run is ending: see the module docstring
                    handler = signal.SIG_IGN
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # a second signal: stop now, and hear no third
            for other in STOP_SIGNALS:
                signal.signal(other, signal.SIG_IGN)
            raise Interrupted(signum)
        self.signum = signum
        if self.announce:
            log.warning(
                f"{signal.Signals(signum).name}: stopping at the end of the step under way, "
                "once it is saved (send it again to stop at once, losing the steps since the "
                "last checkpoint)"
            )
        if self.abandons_validation:
            raise ValidationAbandoned
