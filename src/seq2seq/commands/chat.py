"""`seq2seq chat`: an interactive prompt; type a line, read the model's output.

Each line is translated on its own (decode/chat.py's `ChatSession`), with the same search as
`seq2seq translate`. Commands start with a colon: ``:nbest K`` shows the K best outputs with their
scores (``:nbest 1`` goes back to one), ``:beam N`` sets the beam width, ``:sample [T]`` samples
the answers (at temperature T), ``:help`` lists the commands and ``:quit`` leaves; so do Ctrl-D
and Ctrl-C, with exit status 0. ``--sampling --temperature 0.8 --seed 3`` starts out sampling.

In a terminal the line is read through GNU readline (Python's `input`), not the terminal's own
line discipline: that one edits bytes, so a backspace over a wide Hangul syllable leaves half of
it on the screen, and it cuts a line at 4,095 bytes (1,365 Hangul syllables) without a word.
Readline edits characters by their display width, takes lines of any length, and gives the
arrow keys and the history of the session.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Protocol

from seq2seq.commands.options import (
    add_checkpoints,
    add_decode_settings,
    add_device,
    add_max_src_len,
    decode_overrides,
)

if TYPE_CHECKING:
    from seq2seq.config import DecodeConfig
    from seq2seq.decode.chat import ChatSession
    from seq2seq.decode.translator import Translation

HELP = """commands:
  :nbest K   show the K best outputs with their scores (K=1: only the best)
  :beam N    search with a beam of N (1 = greedy)
  :sample T  sample the answers at temperature T (T optional; :beam N goes back)
  :help      this text
  :quit      leave (Ctrl-D works too)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoints(parser)
    add_decode_settings(parser)
    add_max_src_len(parser)
    add_device(parser)


class _Stopped(Exception):
    """SIGTERM while waiting for a line: carried past chat_loop, which takes Ctrl-C as the end
    of the conversation, so that the command still ends as terminated (exit status 143)."""


class _Utf8Lines:
    """stdin for `chat_loop`: lines decoded as strict UTF-8, a bad byte reported with its line
    number (one sentence, not a UnicodeDecodeError)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.lineno = 0

    def isatty(self) -> bool:
        return self.stream.isatty()

    def readline(self) -> str:
        from seq2seq.commands import Terminated
        from seq2seq.errors import DataError

        self.lineno += 1
        buffer = getattr(self.stream, "buffer", None)
        if buffer is None:  # already text (an embedding program's stream)
            return self.stream.readline()
        try:
            raw = buffer.readline()
        except Terminated:
            raise _Stopped from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"standard input line {self.lineno} is not valid UTF-8") from None


class _TerminalLines:
    """stdin for `chat_loop` when both ends are a terminal: lines read by `input` through GNU
    readline, which writes the prompt itself (`writes_prompt`); Ctrl-D and Ctrl-C end the
    conversation ('' as at the end of a file), SIGTERM still ends the command as terminated."""

    writes_prompt = True

    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        self.lineno = 0
        try:
            import readline
        except ImportError:  # no readline on this platform: input() still reads, unedited
            return
        readline.set_completer(lambda text, state: None)  # Tab: no file names in a chat

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        from seq2seq.commands import Terminated
        from seq2seq.errors import DataError

        self.lineno += 1
        try:
            return input(self.prompt) + "\n"
        except EOFError:
            return ""
        except Terminated:
            raise _Stopped from None
        except UnicodeDecodeError:
            raise DataError(f"standard input line {self.lineno} is not valid UTF-8") from None


class LineSource(Protocol):
    def isatty(self) -> bool: ...

    def readline(self) -> str: ...


class LineSink(Protocol):
    def write(self, text: str) -> object: ...

    def flush(self) -> None: ...


def command(session: ChatSession, line: str) -> str | None:
    """Apply a ':' command; returns the text to show, or None to quit."""
    name, _, value = line[1:].strip().partition(" ")
    if name in ("quit", "exit", "q"):
        return None
    if name == "help":
        return HELP
    if name in ("nbest", "beam") and value.strip().isdigit() and int(value) >= 1:
        settings = (
            session.set_n_best(int(value)) if name == "nbest" else session.set_beam(int(value))
        )
        return _describe(settings)
    if name == "sample":
        return _sample_command(session, value.strip())
    return f"unknown command '{line.strip()}'; type :help"


def _sample_command(session: ChatSession, value: str) -> str:
    """`:sample` or `:sample T`: sampling on, at temperature T; a bad T is said, not raised."""
    from seq2seq.errors import ConfigError

    try:
        temperature = float(value) if value else None
    except ValueError:
        return f"the temperature must be a number, not '{value}'"
    try:
        settings = session.set_sampling(temperature)
    except ConfigError as err:
        return str(err)
    return _describe(settings)


def _describe(settings: DecodeConfig) -> str:
    """The search the next answers get, in a few words."""
    if settings.sampling:
        return (
            f"sampling at temperature {settings.temperature:g}, showing {settings.n_best} samples"
        )
    return f"beam size {settings.beam_size}, showing {settings.n_best} best"


def format_reply(hyps: list[Translation], n_best: int) -> str:
    """The best output, or (n_best > 1) a numbered list with scores."""
    if not hyps:
        return ""
    if n_best == 1:
        return hyps[0].text
    return "\n".join(
        f"{rank}. {h.text}  (score {h.score:.3f}, log-prob {h.log_prob:.3f})"
        for rank, h in enumerate(hyps, 1)
    )


def chat_loop(session: ChatSession, stdin: LineSource, stdout: LineSink, prompt: str = "> ") -> int:
    """Read lines until EOF or :quit; returns the exit status (0)."""
    interactive = stdin.isatty()
    while True:
        if interactive and not getattr(stdin, "writes_prompt", False):
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
        if line.lstrip().startswith(":"):
            answer = command(session, line)
        else:
            answer = format_reply(session.reply(line), session.settings.n_best)
        if answer is None:
            return 0
        stdout.write(answer + "\n")
        stdout.flush()


def run(args: argparse.Namespace) -> int:
    from seq2seq.checkpoint import read_task
    from seq2seq.commands import Terminated
    from seq2seq.decode.chat import ChatSession
    from seq2seq.decode.translator import Translator

    translator = Translator.load(args.checkpoint, device=args.device, max_src_len=args.max_src_len)
    task = read_task(args.checkpoint[0])  # worded by it: a chatbot's prompt is "question> "
    session = ChatSession(translator, translator.settings(**decode_overrides(args)))
    if sys.stdin.isatty():
        print(
            f"seq2seq chat, a {task.name} ({task.labels}): {', '.join(translator.names)}; "
            f"type a {task.source_label.lower()}, :help for commands, Ctrl-D to leave"
        )
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    lines = _TerminalLines(task.prompt) if terminal else _Utf8Lines(sys.stdin)
    try:
        return chat_loop(session, lines, sys.stdout, task.prompt)
    except _Stopped:
        raise Terminated from None
