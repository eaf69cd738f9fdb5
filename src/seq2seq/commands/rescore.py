"""`seq2seq rescore`: re-rank n-best lists, by the paper's even average or by MMI.

Two ways, one command:

    # paper §3.6: an external system's n-best, averaged with the model's log-probabilities
    seq2seq rescore --checkpoint m.safetensors --src test.en --nbest smt.nbest --output out.fr

    # Li et al. 2016, MMI-bidi: the forward model's 10-best answers, re-ranked by a backward
    # model p(question | answer) trained on the swapped pairs, its weight λ chosen on dev by BLEU
    seq2seq rescore --checkpoint fwd.safetensors --backward bwd.safetensors --src test.q \\
        --n-best 10 --tune-src dev.q --tune-ref dev.a --output test.mmi

With --backward, the candidates come from --nbest when given (its scores are the forward term),
else from the forward --checkpoint's search (the search flags below apply: --n-best, --beam-size,
--sampling ...). The chosen λ and the dev BLEU of every λ tried go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from seq2seq.commands.options import (
    add_checkpoints,
    add_decode_settings,
    add_device,
    add_max_src_len,
    decode_overrides,
)

MMI_N_BEST = 10  # candidates per sentence when --backward is given without --n-best
MMI_WEIGHT = 0.5  # λ when neither --backward-weight nor --tune-src is given


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoints(
        parser,
        required=False,
        help="the model that scores --nbest (paper §3.6); with --backward, the forward model "
        "(an ensemble when several)",
    )
    parser.add_argument("--src", required=True, type=Path, help="source sentences, one a line")
    parser.add_argument("--nbest", type=Path, default=None, help="Moses n-best list to re-rank")
    parser.add_argument(
        "--weight", type=float, default=0.5, help="weight of the model's log-probability (paper: 0.5)"
    )  # fmt: skip
    parser.add_argument(
        "--output", required=True, type=Path, help="re-ranked 1-best, one line per sentence"
    )
    parser.add_argument(
        "--nbest-output", type=Path, default=None, help="the full re-scored n-best list"
    )
    mmi = parser.add_argument_group(
        "MMI re-ranking (Li et al. 2016): forward + λ·backward + γ·words"
    )
    mmi.add_argument(
        "--backward", nargs="+", type=Path, default=None, metavar="CKPT",
        help="backward model(s) p(source | output), trained on the swapped pairs",
    )  # fmt: skip
    mmi.add_argument(
        "--backward-weight", type=float, default=None, metavar="λ",
        help=f"weight of log p(source | output) (default: {MMI_WEIGHT}, or tuned)",
    )  # fmt: skip
    mmi.add_argument(
        "--length-bonus", type=float, default=0.0, metavar="γ", help="added per output word"
    )
    mmi.add_argument("--tune-src", type=Path, default=None, help="dev sources: choose λ by BLEU")
    mmi.add_argument("--tune-ref", type=Path, default=None, help="dev references for --tune-src")
    mmi.add_argument(
        "--grid", default=None, metavar="λ,λ,...", help="λ values to try (default: 0,0.1,...,1.5)"
    )
    add_decode_settings(parser)
    add_max_src_len(parser)
    add_device(parser)


def run(args: argparse.Namespace) -> int:
    from seq2seq.config import DecodeConfig
    from seq2seq.errors import ConfigError

    given = args.decode_batch_size
    args.batch_size = DecodeConfig.model_fields["batch_size"].default if given is None else given
    if args.batch_size < 1:  # sentences searched, and hypotheses scored, per batch
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.backward is None:
        _check_paper_flags(args)
    else:
        _check_mmi_flags(args)
    _check_paths(args)
    return _rescore_paper(args) if args.backward is None else _rescore_mmi(args)


def _check_paper_flags(args: argparse.Namespace) -> None:
    from seq2seq.errors import ConfigError

    if args.nbest is None:
        raise ConfigError(
            "rescore needs --nbest (a list to re-rank with --checkpoint) or --backward "
            "(MMI re-ranking of the forward model's n-best)"
        )
    if args.checkpoint is None:
        raise ConfigError("rescore --nbest needs --checkpoint, the model that scores the list")
    if not 0.0 <= args.weight <= 1.0:
        raise ConfigError(f"--weight must lie in [0, 1], got {args.weight}")
    mmi_only = ("tune_src", "tune_ref", "backward_weight", "grid")
    given = [name for name in mmi_only if getattr(args, name) is not None]
    if given or args.length_bonus:
        name = given[0] if given else "length_bonus"
        raise ConfigError(f"--{name.replace('_', '-')} is for MMI re-ranking; add --backward")


def _check_mmi_flags(args: argparse.Namespace) -> None:
    from seq2seq.errors import ConfigError

    if (args.tune_src is None) != (args.tune_ref is None):
        raise ConfigError("--tune-src and --tune-ref go together: dev sources and references")
    if args.tune_src is not None and args.backward_weight is not None:
        raise ConfigError("give --backward-weight or --tune-src/--tune-ref, not both")
    if args.checkpoint is None and (args.nbest is None or args.tune_src is not None):
        raise ConfigError(
            "MMI re-ranking needs the forward --checkpoint to write the n-best it re-ranks"
            + ("" if args.nbest is None else " on the dev set (--tune-src)")
        )
    args.grid_values = _grid(args.grid)


def _grid(text: str | None) -> tuple[float, ...]:
    import math

    from seq2seq.decode.mmi import DEFAULT_GRID
    from seq2seq.errors import ConfigError

    if text is None:
        return DEFAULT_GRID
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"--grid must be numbers separated by commas, got '{text}'") from None
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        raise ConfigError(f"--grid must be finite numbers >= 0, got '{text}'")
    return values


def _check_paths(args: argparse.Namespace) -> None:
    """Every path before any model loads, so no scoring is lost to a bad output path."""
    from seq2seq.data.io import check_readable, check_writable, same_file
    from seq2seq.errors import DataError

    inputs = [("--src", args.src), ("--nbest", args.nbest)]
    inputs += [("--tune-src", args.tune_src), ("--tune-ref", args.tune_ref)]
    inputs = [(flag, path) for flag, path in inputs if path is not None]
    for flag, path in inputs:
        check_readable(path, flag)
    for flag, path in (("--output", args.output), ("--nbest-output", args.nbest_output)):
        if path is None:
            continue
        check_writable(path, flag)
        for in_flag, given in inputs:
            if same_file(path, given):
                raise DataError(
                    f"{flag} {path} is the {in_flag} file; give another name so it is not "
                    "overwritten"
                )
    if args.nbest_output is not None and args.output.absolute() == args.nbest_output.absolute():
        raise DataError(f"--output and --nbest-output are both {args.output}; give two names")


def _rescore_paper(args: argparse.Namespace) -> int:
    """Paper §3.6: the model's teacher-forced log-probability averaged with the list's score."""
    from seq2seq.data.io import iter_lines
    from seq2seq.decode.nbest import read_nbest
    from seq2seq.decode.rescore import check_sources, rescore, write_outputs
    from seq2seq.decode.translator import Translator

    sources = list(iter_lines(args.src))
    entries = read_nbest(args.nbest)
    check_sources(entries, sources, args.src, args.nbest)
    translator = Translator.load(args.checkpoint, device=args.device)
    scores = translator.score(
        [sources[e.sentence] for e in entries], [e.text for e in entries], args.batch_size
    )
    ranked = rescore(entries, scores, args.weight)
    write_outputs(ranked, len(sources), args.output, args.nbest_output)
    print(
        f"rescored {len(entries)} hypotheses of {len(ranked)} sentences; 1-best in {args.output}",
        file=sys.stderr,
    )
    return 0


def _rescore_mmi(args: argparse.Namespace) -> int:
    """Li et al. 2016: forward n-best, backward scores, λ given or tuned on dev, re-ranked."""
    from seq2seq.data.io import iter_lines
    from seq2seq.decode import mmi
    from seq2seq.decode.nbest import read_nbest
    from seq2seq.decode.rescore import check_sources, write_outputs
    from seq2seq.decode.translator import Translator

    sources = list(iter_lines(args.src))
    backward = Translator.load(args.backward, device=args.device)
    forward, settings = None, None
    if args.checkpoint is not None:
        forward = Translator.load(args.checkpoint, device=args.device, max_src_len=args.max_src_len)
        settings = forward.settings(**{"n_best": MMI_N_BEST, **decode_overrides(args)})
    weight = args.backward_weight if args.backward_weight is not None else MMI_WEIGHT
    if args.tune_src is not None:
        assert forward is not None and settings is not None  # _check_mmi_flags
        weight = _tune(args, forward, backward, settings)
    if args.nbest is not None:
        entries = read_nbest(args.nbest)
        check_sources(entries, sources, args.src, args.nbest)
        candidates = mmi.nbest_candidates(entries, len(sources))
    else:
        assert forward is not None and settings is not None
        candidates = mmi.search_candidates(forward, sources, settings)
    mmi.add_backward(backward, sources, candidates, args.batch_size)
    ranked = mmi.rerank(candidates, weight, args.length_bonus)
    write_outputs(_as_entries(ranked), len(sources), args.output, args.nbest_output)
    count = sum(len(c) for c in ranked)
    print(
        f"re-ranked {count} candidates of {len(sources)} sentences with λ={weight:g}, "
        f"γ={args.length_bonus:g}; 1-best in {args.output}",
        file=sys.stderr,
    )
    return 0


def _tune(args: argparse.Namespace, forward: Any, backward: Any, settings: Any) -> float:
    """λ of the grid with the best dev BLEU; every λ's BLEU and the choice on stderr."""
    from seq2seq.data.io import iter_lines
    from seq2seq.decode import mmi
    from seq2seq.evaluate.metrics import bleu

    dev_sources, references = list(iter_lines(args.tune_src)), list(iter_lines(args.tune_ref))
    dev = mmi.mmi_candidates(forward, backward, dev_sources, settings, args.batch_size)
    weight, values = mmi.tune_weight(
        dev,
        references,
        lambda hyps, refs: bleu(hyps, refs).score,
        args.grid_values,
        args.length_bonus,
    )
    table = "  ".join(f"{w:g}: {v:.2f}" for w, v in values.items())
    print(f"dev BLEU by λ ({args.tune_src}): {table}", file=sys.stderr)
    print(f"chosen λ={weight:g} (dev BLEU {values[weight]:.2f})", file=sys.stderr)
    return weight


def _as_entries(ranked: list[list[Any]]) -> dict[int, list[Any]]:
    """Ranked candidates as Moses n-best entries, their features the MMI terms."""
    from seq2seq.decode.nbest import NBestEntry

    return {
        i: [NBestEntry(i, c.text, c.features(), c.score) for c in cands]
        for i, cands in enumerate(ranked)
        if cands
    }
