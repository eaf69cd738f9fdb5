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


def run(args: argparse.Namespace) -> int:
    from seq2seq.decode.chat import ChatSession, chat_loop
    from seq2seq.decode.translator import Translator

    translator = Translator.load(args.checkpoint, device=args.device, max_src_len=args.max_src_len)
    session = ChatSession(translator, translator.settings(**decode_overrides(args)))
    if sys.stdin.isatty():
        print(
            f"seq2seq chat: {', '.join(translator.names)}; "
            "type a line, :help for commands, Ctrl-D to leave"
        )
    return chat_loop(session, sys.stdin, sys.stdout)
