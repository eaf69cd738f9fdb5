"""A chat session: one translator and the search settings of the conversation so far.

Each line is answered on its own (no history is carried between lines), with the same search as
`seq2seq translate`. Sampling (``sampling=True``) numbers the lines of the conversation, so a
line's samples come from the stream of its turn: the same conversation with the same seed gets
the same answers, and a question asked twice gets two draws. The prompt around it (reading lines, ':' commands, printing) is the command's
(commands/chat.py); this object knows nothing of a terminal.
"""

from __future__ import annotations

from seq2seq.config import SAMPLING_ONLY, DecodeConfig
from seq2seq.decode.translator import Translation, Translator


class ChatSession:
    """The translator and the current search settings of one conversation."""

    def __init__(self, translator: Translator, settings: DecodeConfig) -> None:
        self.translator = translator
        self.settings = settings
        self.turn = 0  # lines answered so far

    def set_beam(self, beam_size: int) -> DecodeConfig:
        """Search with a beam of `beam_size` (n-best shrinks to fit it; sampling stops)."""
        n_best = min(self.settings.n_best, beam_size)
        return self._update(beam_size=beam_size, n_best=n_best, sampling=False, **SAMPLING_ONLY)

    def set_n_best(self, n_best: int) -> DecodeConfig:
        """Answer with the `n_best` best outputs (the beam widens to hold them, or as many
        samples are drawn)."""
        if self.settings.sampling:
            return self._update(n_best=n_best)
        return self._update(beam_size=max(self.settings.beam_size, n_best), n_best=n_best)

    def set_sampling(self, temperature: float | None = None) -> DecodeConfig:
        """Sample the answers (at `temperature`, or the current one) instead of a beam search."""
        temperature = self.settings.temperature if temperature is None else temperature
        return self._update(sampling=True, beam_size=1, temperature=temperature)

    def reply(self, line: str) -> list[Translation]:
        """The n-best outputs for one line, best first ([] for an empty or over-long line)."""
        self.turn += 1
        [hyps] = self.translator.translate_hypotheses([line], self.settings, first_line=self.turn)
        return hyps

    def _update(self, **changes: object) -> DecodeConfig:
        self.settings = self.translator.settings(**{**self.settings.model_dump(), **changes})
        return self.settings
