"""`seq2seq serve`: an HTTP server for a model of any task (a native API, a web page, and for
translation LibreTranslate's API).

    seq2seq serve --checkpoint runs/small-cpu/best.safetensors                  # http://127.0.0.1:8080
    seq2seq serve --checkpoint a.safetensors b.safetensors --beam-size 5 --precision auto --port 9000
    seq2seq serve --checkpoint best.safetensors --api-keys keys.txt --host 0.0.0.0
    seq2seq serve --model deploy/en-fr      # an export (`seq2seq export`), on the runtime
    seq2seq serve --checkpoint runs/fsdd/best.safetensors --max-seconds 30   # speech: /v1/transcribe

The server's flags are generated from `ServeConfig`, the search flags are `translate`'s (the same
flags give the same translations). The address is bound before the model loads, so a port in use
ends the command at once. The task is the checkpoint's (seq2seq/tasks.py); every checkpoint the
toolkit writes is servable without a flag: a translation that records no language pair is served
under the neutral codes 'src' and 'tgt' (--source-lang / --target-lang name it). See
docs/serving.md and seq2seq/serve/.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from seq2seq.commands.options import (
    add_checkpoints,
    add_decode_settings,
    add_device,
    add_max_src_len,
    add_settings,
    decode_overrides,
    given_settings,
    settings_as_flags,
)
from seq2seq.config import ServeConfig

if TYPE_CHECKING:
    from seq2seq.audio.io import AudioConfig
    from seq2seq.serve.keys import ApiKeys
    from seq2seq.tasks import Task

NEUTRAL_PAIR = ("src", "tgt")  # a translation checkpoint that records no language pair
log = logging.getLogger(__name__)

_DEST = "serve_"
_AUDIO = "audio_"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from seq2seq.audio.io import AudioConfig
    from seq2seq.commands.exported import add_model

    add_checkpoints(parser, required=False)
    add_model(parser)
    add_settings(parser.add_argument_group("server (ServeConfig)"), ServeConfig, _DEST)
    group = parser.add_argument_group("uploaded recordings, for a speech model (AudioConfig)")
    add_settings(group, AudioConfig, _AUDIO)
    add_decode_settings(parser)
    add_max_src_len(parser)
    add_device(parser)


def run(args: argparse.Namespace) -> int:
    from seq2seq.audio.io import AudioConfig
    from seq2seq.commands.exported import check_source
    from seq2seq.errors import ConfigError
    from seq2seq.serve.keys import ApiKeys
    from seq2seq.serve.server import bind

    check_source(args)
    with settings_as_flags(ServeConfig), settings_as_flags(AudioConfig):
        config = ServeConfig(**given_settings(args, _DEST))
        audio = AudioConfig(**given_settings(args, _AUDIO))
        if args.max_src_len < 1:
            raise ConfigError(f"--max-src-len must be at least 1, got {args.max_src_len}")
        logging.basicConfig(level=config.log_level.upper(), format="%(levelname)s: %(message)s")
        keys = ApiKeys.from_file(config.api_keys) if config.api_keys else None
        sock = bind(config.host, config.port)  # before the model loads: a busy port costs nothing
    try:
        return _serve(args, config, keys, sock, audio)
    finally:
        sock.close()


def _serve(
    args: argparse.Namespace,
    config: ServeConfig,
    keys: ApiKeys | None,
    sock: socket.socket,
    audio: AudioConfig,
) -> int:
    """Load the model, check what it can serve, and serve on `sock` until a signal."""
    import torch

    from seq2seq.decode.translator import Translator
    from seq2seq.errors import ConfigError
    from seq2seq.serve.app import create_app
    from seq2seq.serve.batcher import Servable
    from seq2seq.serve.exported import ExportedTranslator
    from seq2seq.serve.server import make_server
    from seq2seq.serve.speech import SpeechTranslator
    from seq2seq.tasks import get_task

    if config.threads is not None:
        torch.set_num_threads(config.threads)
    translator: Servable
    if args.model is not None:  # an export, searched by the runtime
        translator = ExportedTranslator(args.model, args.max_src_len, config.threads)
        task = get_task(translator.task_name, f"--model {args.model}")
    else:
        loaded = Translator.load(args.checkpoint, device=args.device, max_src_len=args.max_src_len)
        task = served_task(args.checkpoint)
        # a speech model reads uploaded recordings (POST /v1/transcribe) as `transcribe` reads files
        translator = SpeechTranslator.of(loaded, audio) if task.name == "speech" else loaded
    config = served_config(config, (translator.src_lang, translator.tgt_lang), task)
    settings = translator.settings(**decode_overrides(args))
    if settings.beam_size > config.max_beam_size:
        raise ConfigError(
            f"--beam-size {settings.beam_size} is more than --max-beam-size {config.max_beam_size}"
        )
    app = create_app(translator, config, settings, keys, task=task)
    server = make_server(
        app, config.host, config.port, config.shutdown_timeout, config.access_log, config.log_level
    )
    # uvicorn re-raises the signal it shut down on; a SIGTERM handled here ends the process
    # normally (exit status 0) once the requests in flight are answered.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    server.run(sockets=[sock])
    return 0 if server.started else 1


def served_task(checkpoints: Sequence[Path]) -> Task:
    """The checkpoints' task (seq2seq/tasks.py); an ensemble's members must share it."""
    from seq2seq.checkpoint import read_task
    from seq2seq.errors import ConfigError

    tasks = [read_task(path) for path in checkpoints]
    other = next((i for i, t in enumerate(tasks) if t != tasks[0]), None)
    if other is not None:
        raise ConfigError(
            f"checkpoint {checkpoints[0]} is a {tasks[0].name} model but {checkpoints[other]} "
            f"is a {tasks[other].name} model; an ensemble serves one task"
        )
    return tasks[0]


def served_config(
    config: ServeConfig, recorded: tuple[str | None, str | None], task: Task
) -> ServeConfig:
    """`config` with the language pair filled in: the flags', else the checkpoint's; a translation
    that records none is served under the neutral codes 'src' and 'tgt' (LibreTranslate's
    clients choose by code), another task without them (it has no LibreTranslate API)."""
    source = config.source_lang or recorded[0] or ""
    target = config.target_lang or recorded[1] or ""
    if task.libretranslate and not (source and target):
        source, target = source or NEUTRAL_PAIR[0], target or NEUTRAL_PAIR[1]
        log.warning(
            "the checkpoint records no language pair: serving it as %s -> %s "
            "(--source-lang and --target-lang name it)", source, target
        )  # fmt: skip
    return ServeConfig(**{**config.model_dump(), "source_lang": source, "target_lang": target})
