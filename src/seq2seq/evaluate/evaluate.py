"""`seq2seq evaluate`: translate a test set (or take a hypotheses file) and score it.

Prints sacreBLEU's BLEU and chrF with their signatures, and the per-token perplexity of the
references under the model (teacher forcing, EOS included). With ``--json`` it prints one JSON
object instead, for scripts and for ``seq2seq report --eval``::

    seq2seq evaluate --checkpoint run/best.safetensors --src test.en.gz --ref test.fr.gz
    seq2seq evaluate --checkpoint a.safetensors b.safetensors --beam-size 12 \\
        --src test.en --ref test.fr --json > eval.json
    seq2seq evaluate --hyp output.fr --src test.en --ref test.fr       # scores only
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from seq2seq.errors import ConfigError
from seq2seq.precision import add_precision_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        nargs="+",
        metavar="CKPT",
        default=None,
        help="one checkpoint, or several for an ensemble (needed unless --hyp is given)",
    )
    parser.add_argument("--src", type=Path, required=True, help="source sentences, plain or .gz")
    parser.add_argument("--ref", type=Path, required=True, help="reference translations")
    parser.add_argument(
        "--hyp", type=Path, default=None, help="score this hypotheses file instead of translating"
    )
    parser.add_argument(
        "--beam-size", type=int, default=None, help="beam width; 1 = greedy (default: config)"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="sentences per batch")
    add_precision_argument(parser)
    parser.add_argument(
        "--shortlist",
        action="store_true",
        default=None,
        help="score only each batch's lexical shortlist of target tokens (see translate)",
    )
    parser.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU and chrF")
    parser.add_argument(
        "--output", type=Path, default=None, help="also write the translations to this file"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Everything `run` prints, as one JSON-able dict."""
    from seq2seq.evaluate.scores import check_aligned, corpus_scores, read_lines

    if args.checkpoint is None and args.hyp is None:
        raise ConfigError("give --checkpoint to translate the source, or --hyp with translations")
    sources, references = read_lines(args.src), read_lines(args.ref)
    check_aligned({str(args.src): sources, str(args.ref): references})
    result: dict[str, Any] = {
        "checkpoints": [str(p) for p in args.checkpoint or []],
        "src": str(args.src),
        "ref": str(args.ref),
        "hyp": str(args.hyp) if args.hyp else None,
        "lowercase": args.lowercase,
    }
    translator = None
    if args.checkpoint:
        from seq2seq.decode.translator import Translator

        translator = Translator.load(args.checkpoint, device=args.device)
    if args.hyp is not None:
        hypotheses = read_lines(args.hyp)
        check_aligned({str(args.ref): references, str(args.hyp): hypotheses})
    else:
        settings = translator.settings(
            beam_size=args.beam_size,
            n_best=1,
            batch_size=args.batch_size,
            precision=args.precision,
            shortlist=args.shortlist,
        )
        started = time.perf_counter()
        hypotheses = translator.translate(
            sources,
            beam_size=settings.beam_size,
            n_best=1,
            batch_size=settings.batch_size,
            precision=settings.precision,
            shortlist=settings.shortlist,
        )
        seconds = time.perf_counter() - started
        result.update(
            beam_size=settings.beam_size,
            precision=settings.precision,
            shortlist=settings.shortlist,
            translate_seconds=round(seconds, 3),
        )
        if args.output is not None:
            _write_lines(args.output, hypotheses)
    result.update(corpus_scores(hypotheses, references, args.lowercase).to_dict())
    result["perplexity"] = None
    if translator is not None:
        result["perplexity"] = _perplexity(translator, sources, references, args).to_dict()
    return result


def _perplexity(translator, sources, references, args):
    from seq2seq.evaluate.scores import reference_perplexity

    return reference_perplexity(
        translator.model,
        translator.src_vocab,
        translator.tgt_vocab,
        translator.reverse_source,
        sources,
        references,
        batch_size=args.batch_size or translator.config.decode.batch_size,
        device=translator.device,
    )


def _write_lines(path: Path, lines: list[str]) -> None:
    from seq2seq.data.io import AtomicTextFile

    with AtomicTextFile(path) as handle:
        handle.writelines(line + "\n" for line in lines)


def format_result(result: dict[str, Any]) -> str:
    """The human-readable summary: scores, signatures, perplexity."""
    lines = [
        result["bleu_text"],
        f"  {result['bleu_signature']}",
        f"chrF2 = {result['chrf']:.2f}",
        f"  {result['chrf_signature']}",
    ]
    ppl = result.get("perplexity")
    if ppl is not None:
        lines.append(
            f"perplexity = {ppl['perplexity']:.3f} over {ppl['tokens']:,} reference tokens "
            f"of {ppl['sentences']:,} sentences (EOS included)"
        )
    if "beam_size" in result:
        speed = result["sentences"] / max(result["translate_seconds"], 1e-9)
        lines.append(
            f"translated {result['sentences']:,} sentences with beam {result['beam_size']} "
            f"in {result['translate_seconds']:.1f} s ({speed:.1f} sentences/s)"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    result = evaluate(args)
    print(json.dumps(result) if args.json else format_result(result))
    return 0
