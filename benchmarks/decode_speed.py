"""Decoding speed on Multi30k test_2016 for a trained checkpoint (or an ensemble).

    python benchmarks/decode_speed.py --checkpoint runs/small-cpu/best.safetensors
    python benchmarks/decode_speed.py --checkpoint a.safetensors b.safetensors --device cuda

Measures, with the same `Translator` that `seq2seq translate` uses:
  1. greedy and beam 5 at batch sizes 1 and 64: sentences/s, output tokens/s (EOS not counted),
     and BLEU against the reference when there is one (a speed trick must not move it);
  2. a beam-size sweep 1, 2, 4, 8, 12 at batch size 64, and the time ratio beam 12 / beam 1
     (the paper decoded with beams of 1 to 12 and found a beam of 2 gives most of the gain);
  3. the start-up time (checkpoint to ready translator) and the process's peak resident memory;
  4. with `--precision fp32 bf16` (the default), the batch-64 greedy and beam-5 runs in each
     arithmetic (bf16: matrix products autocast to bfloat16), BLEU beside the speed;
  5. when the checkpoint holds a lexical shortlist (`seq2seq shortlist`), the same runs again
     scoring only each batch's shortlist.
Batch size 1 runs on the first `--limit-batch1` sentences only (it is slow by nature); the other
runs use the whole test set. A run that fails is recorded with its error instead of stopping the
benchmark. Results go to benchmarks/results/decode_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"
RESULTS = ROOT / "benchmarks" / "results"
SWEEP = (1, 2, 4, 8, 12)


def peak_rss_mb() -> float:
    """Peak resident set of this process so far (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def read_lines(path: Path | None) -> list[str] | None:
    from seq2seq.data.io import iter_lines

    return None if path is None or not path.is_file() else list(iter_lines(path))


def time_run(
    translator,
    lines: list[str],
    refs: list[str] | None,
    beam: int,
    batch: int,
    precision: str,
    shortlist: bool = False,
) -> dict:
    """Translate `lines` once (after a short warm-up) and report speed and BLEU."""
    settings = translator.settings(
        beam_size=beam, n_best=1, batch_size=batch, precision=precision, shortlist=shortlist
    )
    translator.translate_hypotheses(lines[: min(len(lines), 2 * batch, 16)], settings)  # warm-up
    if translator.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    results = translator.translate_hypotheses(lines, settings)
    if translator.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    outputs = [hyps[0] if hyps else None for hyps in results]
    tokens = sum(len(h.tokens) for h in outputs if h is not None)
    row = {
        "beam_size": beam,
        "batch_size": batch,
        "precision": precision,
        "shortlist": shortlist,
        "sentences": len(lines),
        "seconds": round(seconds, 3),
        "sent_s": round(len(lines) / seconds, 2),
        "tok_s": round(tokens / seconds, 1),
        "mean_output_len": round(tokens / max(1, len(lines)), 2),
        "peak_rss_mb": peak_rss_mb(),
    }
    if refs is not None:
        import sacrebleu

        hyps = [h.text if h is not None else "" for h in outputs]
        row["bleu"] = round(sacrebleu.corpus_bleu(hyps, [refs[: len(hyps)]]).score, 2)
    return row


def safe_run(
    translator, lines, refs, beam: int, batch: int, precision: str = "fp32", shortlist=False
) -> dict:
    try:
        row = time_run(translator, lines, refs, beam, batch, precision, shortlist)
    except Exception as err:  # record and go on: one bad setting must not lose the others
        row = {"beam_size": beam, "batch_size": batch, "precision": precision}
        row["error"] = f"{type(err).__name__}: {err}"
    print(json.dumps(row), file=sys.stderr)
    return row


def markdown(result: dict) -> str:
    lines = [
        f"# Decoding speed ({result['date']}; {result['machine']})",
        "",
        f"Checkpoint(s): {', '.join(result['checkpoints'])}; source {result['source']}; "
        f"start-up {result['startup_s']} s; peak RSS {result['peak_rss_mb']} MB.",
        "",
        "| search | batch | precision | shortlist | sentences | sent/s | tok/s | BLEU | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"] + result["sweep"]:
        name = "greedy" if r["beam_size"] == 1 else f"beam {r['beam_size']}"
        cut = "yes" if r.get("shortlist") else "no"
        head = f"| {name} | {r['batch_size']} | {r.get('precision', 'fp32')} | {cut} |"
        if "error" in r:
            lines.append(f"{head} failed: {r['error']} | | | | |")
            continue
        lines.append(
            f"{head} {r['sentences']} | {r['sent_s']:,} | {r['tok_s']:,} | "
            f"{r.get('bleu', '-')} | {r['seconds']} |"
        )
    if result.get("beam12_over_beam1") is not None:
        lines.append(
            f"\nTime of beam 12 / time of beam 1 (batch 64): {result['beam12_over_beam1']}x."
        )
    return "\n".join(lines) + "\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", nargs="+", required=True, type=Path)
    parser.add_argument("--src", type=Path, default=MULTI30K / "test_2016_flickr.en.gz")
    parser.add_argument(
        "--ref", type=Path, default=MULTI30K / "test_2016_flickr.fr.gz", help="'' for none"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    parser.add_argument("--limit", type=int, default=None, help="use only the first N sentences")
    parser.add_argument(
        "--limit-batch1", type=int, default=200, help="sentences for the batch-size-1 runs"
    )
    parser.add_argument("--sweep", type=int, nargs="+", default=list(SWEEP))
    parser.add_argument(
        "--precision",
        nargs="+",
        choices=["fp32", "bf16"],
        default=["fp32", "bf16"],
        help="arithmetics of the batch-64 greedy and beam-5 runs (the sweep uses the first)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args()


def main() -> int:
    from seq2seq.runtime import keep_freed_memory

    keep_freed_memory()  # as the `seq2seq` command does
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from seq2seq.decode.translator import Translator
    from seq2seq.errors import Seq2SeqError

    try:
        sources = read_lines(args.src)
        if sources is None:
            sys.exit(f"source file {args.src} not found; pass --src")
        refs = read_lines(Path(args.ref)) if str(args.ref) else None
        start = time.perf_counter()
        translator = Translator.load(args.checkpoint, device=args.device)
        startup = time.perf_counter() - start
    except Seq2SeqError as err:
        sys.exit(f"decode_speed: {err}")
    if refs is not None and len(refs) != len(sources):
        print(
            f"reference has {len(refs)} lines, source {len(sources)}: BLEU skipped", file=sys.stderr
        )
        refs = None
    lines = sources[: args.limit] if args.limit else sources
    runs = []
    first = args.precision[0]
    for beam in (1, 5):
        runs.append(safe_run(translator, lines[: args.limit_batch1], refs, beam, 1, first))
    for shortlist in (False, True) if translator.shortlist is not None else (False,):
        for precision in args.precision:
            for beam in (1, 5):
                runs.append(safe_run(translator, lines, refs, beam, 64, precision, shortlist))
    sweep = [safe_run(translator, lines, refs, beam, 64, first) for beam in args.sweep]
    by_beam = {r["beam_size"]: r for r in sweep if "error" not in r}
    ratio = None
    if 1 in by_beam and 12 in by_beam:
        ratio = round(by_beam[12]["seconds"] / by_beam[1]["seconds"], 2)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, {translator.device}",
        "checkpoints": [str(p) for p in args.checkpoint],
        "source": str(args.src),
        "startup_s": round(startup, 3),
        "peak_rss_mb": peak_rss_mb(),
        "runs": runs,
        "sweep": sweep,
        "beam12_over_beam1": ratio,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decode_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (args.out / "decode_speed.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
