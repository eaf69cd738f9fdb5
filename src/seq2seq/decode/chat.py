"""The interactive prompt behind `seq2seq chat`: type a line, read the model's output.

Each line is translated on its own (no history is carried between lines), with the same search as
`seq2seq translate`. Commands start with a colon: ``:nbest K`` shows the K best outputs with their
scores (``:nbest 1`` goes back to one), ``:beam N`` sets the beam width, ``:help`` lists the
commands and ``:quit`` leaves; so do Ctrl-D and Ctrl-C, with exit status 0.
"""

from __future__ import annotations

from typing import TextIO

from seq2seq.config import DecodeConfig
from seq2seq.decode.translator import Translator

HELP = """commands:
  :nbest K   show the K best outputs with their scores (K=1: only the best)
  :beam N    search with a beam of N (1 = greedy)
  :help      this text
  :quit      leave (Ctrl-D works too)"""


class ChatSession:
    """The state of one session: the translator and the current search settings."""

    def __init__(self, translator: Translator, settings: DecodeConfig) -> None:
        self.translator = translator
        self.settings = settings

    def command(self, line: str) -> str | None:
        """Apply a ':' command; returns the text to show, or None to quit."""
        name, _, value = line[1:].strip().partition(" ")
        if name in ("quit", "exit", "q"):
            return None
        if name == "help":
            return HELP
        if name in ("nbest", "beam") and value.strip().isdigit() and int(value) >= 1:
            k = int(value)
            beam = max(self.settings.beam_size, k) if name == "nbest" else k
            n_best = k if name == "nbest" else min(self.settings.n_best, k)
            self.settings = self.translator.settings(
                **{**self.settings.model_dump(), "beam_size": beam, "n_best": n_best}
            )
            return f"beam size {self.settings.beam_size}, showing {self.settings.n_best} best"
        return f"unknown command '{line.strip()}'; type :help"

    def reply(self, line: str) -> str:
        """The model's output for one input line (n-best with scores when asked for)."""
        [hyps] = self.translator.translate_hypotheses([line], self.settings)
        if not hyps:
            return ""
        if self.settings.n_best == 1:
            return hyps[0].text
        return "\n".join(
            f"{rank}. {h.text}  (score {h.score:.3f}, log-prob {h.log_prob:.3f})"
            for rank, h in enumerate(hyps, 1)
        )


def chat_loop(session: ChatSession, stdin: TextIO, stdout: TextIO, prompt: str = "> ") -> int:
    """Read lines until EOF or :quit; returns the exit status (0)."""
    interactive = stdin.isatty()
    while True:
        if interactive:
            stdout.write(prompt)
            stdout.flush()
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            line = ""
        if not line:  # EOF (Ctrl-D) or Ctrl-C
            if interactive:
                stdout.write("\n")
            return 0
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        answer = session.command(line) if line.lstrip().startswith(":") else session.reply(line)
        if answer is None:
            return 0
        stdout.write(answer + "\n")
        stdout.flush()
