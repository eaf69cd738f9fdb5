"""`seq2seq chat`: an interactive prompt; type a line, read the model's output (decode/chat.py)."""

from __future__ import annotations

import argparse
import sys

from seq2seq.commands.options import (
    add_checkpoints,
    add_decode_settings,
    add_device,
    add_max_src_len,
    decode_overrides,
)


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


def run(args: argparse.Namespace) -> int:
    from seq2seq.commands import Terminated
    from seq2seq.decode.chat import ChatSession, chat_loop
    from seq2seq.decode.translator import Translator

    translator = Translator.load(args.checkpoint, device=args.device, max_src_len=args.max_src_len)
    session = ChatSession(translator, translator.settings(**decode_overrides(args)))
    if sys.stdin.isatty():
        print(
            f"seq2seq chat: {', '.join(translator.names)}; "
            "type a line, :help for commands, Ctrl-D to leave"
        )
    try:
        return chat_loop(session, _Utf8Lines(sys.stdin), sys.stdout)
    except _Stopped:
        raise Terminated from None
