"""A chat session: one translator and the search settings of the conversation so far.

Each line is answered on its own (no history is carried between lines), with the same search as
`seq2seq translate`. The prompt around it (reading lines, ':' commands, printing) is the command's
(commands/chat.py); this object knows nothing of a terminal.
"""

from __future__ import annotations

from seq2seq.config import DecodeConfig
from seq2seq.decode.translator import Translation, Translator


class ChatSession:
    """The translator and the current search settings of one conversation."""

    def __init__(self, translator: Translator, settings: DecodeConfig) -> None:
        self.translator = translator
        self.settings = settings

    def set_beam(self, beam_size: int) -> DecodeConfig:
        """Search with a beam of `beam_size` (n-best shrinks to fit it); the new settings."""
        n_best = min(self.settings.n_best, beam_size)
        return self._update(beam_size=beam_size, n_best=n_best)

    def set_n_best(self, n_best: int) -> DecodeConfig:
        """Answer with the `n_best` best outputs (the beam widens to hold them)."""
        return self._update(beam_size=max(self.settings.beam_size, n_best), n_best=n_best)

    def reply(self, line: str) -> list[Translation]:
        """The n-best outputs for one line, best first ([] for an empty or over-long line)."""
        [hyps] = self.translator.translate_hypotheses([line], self.settings)
        return hyps

    def _update(self, **changes: int) -> DecodeConfig:
        self.settings = self.translator.settings(**{**self.settings.model_dump(), **changes})
        return self.settings
