"""`seq2seq serve`: an HTTP translation server (LibreTranslate's API, a native API, a web page).

    seq2seq serve --checkpoint runs/small-cpu/best.safetensors                  # http://127.0.0.1:8080
    seq2seq serve --checkpoint a.safetensors b.safetensors --beam-size 5 --precision auto --port 9000
    seq2seq serve --checkpoint best.safetensors --api-keys keys.txt --host 0.0.0.0

The search flags are `translate`'s; the same flags give the same translations. See
docs/serving.md and seq2seq/serve/.
"""

from __future__ import annotations

import argparse
import logging
import signal

from seq2seq.commands.options import (
    add_checkpoints,
    add_decode_settings,
    add_device,
    add_max_src_len,
    decode_overrides,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoints(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default: %(default)s)")
    parser.add_argument(
        "--source-lang",
        default=None,
        help="the model's source language code, e.g. en (default: the checkpoint's)",
    )
    parser.add_argument(
        "--target-lang",
        default=None,
        help="the model's target language code, e.g. fr (default: the checkpoint's)",
    )
    parser.add_argument(
        "--api-keys",
        default=None,
        metavar="FILE",
        help="accept only requests with one of these keys (one per line); 403 otherwise",
    )
    add_decode_settings(parser)
    add_max_src_len(parser)
    add_device(parser)
    group = parser.add_argument_group("dynamic batching and limits")
    group.add_argument(
        "--max-batch-sentences", type=int, default=64,
        help="a coalesced search stops growing at this many sentences (default: %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--max-batch-tokens", type=int, default=6000,
        help="... or at this many source tokens (default: %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--max-wait-ms", type=float, default=5.0,
        help="how long a request on an idle server waits for others to join its search "
        "(default: %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--max-body-bytes", type=int, default=1_000_000,
        help="larger request bodies are answered 413 (default: %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--max-request-sentences", type=int, default=256,
        help="requests with more sentences (lines) are answered 413 (default: %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--max-beam-size", type=int, default=16,
        help="the widest beam a request may ask for (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, default=None, help="PyTorch threads (default: PyTorch's choice)"
    )
    parser.add_argument(
        "--shutdown-timeout", type=float, default=30.0,
        help="on SIGTERM, seconds to wait for requests in flight (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from seq2seq.decode.translator import Translator
    from seq2seq.errors import ConfigError
    from seq2seq.serve.app import create_app
    from seq2seq.serve.config import ServeConfig
    from seq2seq.serve.keys import ApiKeys
    from seq2seq.serve.server import make_server

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(message)s")
    if args.max_src_len < 1:
        raise ConfigError(f"--max-src-len must be at least 1, got {args.max_src_len}")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {args.port}")
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    keys = ApiKeys.from_file(args.api_keys) if args.api_keys else None
    translator = Translator.load(args.checkpoint, device=args.device, max_src_len=args.max_src_len)
    source = args.source_lang or getattr(translator, "src_lang", None)
    target = args.target_lang or getattr(translator, "tgt_lang", None)
    if not source or not target:
        raise ConfigError(
            f"checkpoint {args.checkpoint[0]} does not record its language pair; "
            "name it with --source-lang and --target-lang (e.g. --source-lang en --target-lang fr)"
        )
    config = ServeConfig(
        source_lang=source,
        target_lang=target,
        max_batch_sentences=args.max_batch_sentences,
        max_batch_tokens=args.max_batch_tokens,
        max_wait_ms=args.max_wait_ms,
        max_body_bytes=args.max_body_bytes,
        max_request_sentences=args.max_request_sentences,
        max_beam_size=args.max_beam_size,
    )
    settings = translator.settings(**decode_overrides(args))
    if settings.beam_size > config.max_beam_size:
        raise ConfigError(
            f"--beam-size {settings.beam_size} is more than --max-beam-size {config.max_beam_size}"
        )
    app = create_app(translator, config, settings, keys)
    server = make_server(
        app, args.host, args.port, args.shutdown_timeout, args.access_log, args.log_level
    )
    # uvicorn re-raises the signal it shut down on; a SIGTERM handled here ends the process
    # normally (exit status 0) once the requests in flight are answered.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    server.run()
    return 0 if server.started else 1
