"""Head to head with OpenNMT-py 3.5.1 and Joey NMT 2.3.0 on Multi30k EN->FR, on this machine.

    python benchmarks/peers/run.py [--minutes 12] [--systems seq2seq onmt joey]
        [--models plain attention] [--work DIR] [--skip-install] [--out benchmarks/results/peers]

1. installs each peer in its own venv under the work dir (install.py, as /work/shared/PEERS.md);
2. prepares one SentencePiece-8k joint data set for everyone (peer_data.py);
3. trains the same 2x256 LSTM for the same wall-clock budget with 2 threads (peer_configs.py,
   systems.py), without attention and with Luong attention;
4. decodes test_2016_flickr greedily and with beam 5 (batch 64), timing the whole process,
   detokenises with the shared SentencePiece model and scores with sacreBLEU;
5. writes `<out>.md` and `<out>.json`: the table, our ratio to each peer and the goals.
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import sentencepiece as spm

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.peers import peer_configs as pc  # noqa: E402
from benchmarks.peers import table  # noqa: E402
from benchmarks.peers.install import install_peer  # noqa: E402
from benchmarks.peers.peer_data import PeerData, decode_lines, prepare_all  # noqa: E402
from benchmarks.peers.peer_process import run_measured  # noqa: E402
from benchmarks.peers.systems import System, newest_checkpoint, throughput  # noqa: E402

from seq2seq.evaluate.scores import corpus_scores  # noqa: E402

NOTES = [
    "Same data for all: one joint SentencePiece BPE model (8k) trained by `seq2seq prepare`; the "
    "peers read its pieces as pre-tokenised text with the same 8k-piece vocabulary; their outputs "
    "are detokenised with the same model. Scores: sacreBLEU (13a, cased) and chrF against the raw "
    "test_2016_flickr.fr references.",
    "Same model: 2-layer LSTM, embeddings 256, hidden 256, dropout 0.2, uniform init ±0.08, Adam "
    "1e-3 constant, clipping 5, batches of 64 sentences, 2 threads (OMP/MKL_NUM_THREADS=2). Ours "
    "reverses the source (paper §3.3); the peers read it in order unless --reverse-peer-source.",
    "Joey NMT's recurrent decoder always attends, so it has no attention-free run; its attention "
    "run uses a unidirectional encoder (a one-line patch of its encoders.py) and Luong attention.",
    "Budget: wall clock from process start (start-up and validation included). At the budget "
    "ours gets SIGTERM and Joey NMT SIGINT, and both save the step they are at; OpenNMT-py cannot "
    "save on a signal, so it runs on to its next checkpoint (every 100 steps) and gets slightly "
    "more time.",
    "train tok/s: (last reported step − first reported step) × 64 sentences × the training "
    "corpus's mean target length in pieces (+1 for the end symbol), over the seconds between the "
    "two reports (validation inside the window counts). One formula for every system.",
    "Arithmetic: the peers train and decode in float32 (neither offers bfloat16 on a CPU). Ours "
    "runs at `--precision` (default auto: bfloat16 matrix products under autocast where the CPU "
    "has AVX512-BF16, float32 weights, optimiser and log-softmax); the header says which.",
    "Shortlist: with --shortlist (the default) our search scores only each batch's lexical "
    "shortlist of target pieces (Marian's trick: the 10 pieces most associated with each source "
    "piece in the training data, by Dice, plus the 300 most frequent); the peers score all 8k.",
    "Decoding: the whole process (start-up, model loading, 1,000 sentences, batch 64) timed from "
    "outside; sentences/s = 1,000 / that time. Each system's default maximum output length and "
    "length normalisation. Peak RSS: the largest summed resident memory of the process tree.",
]


def train(system: System, minutes: float, results: dict) -> Path | None:
    """Train under the wall-clock budget; fill `results` and return the checkpoint to decode."""
    budget = minutes * 60
    run_dir = system.dir / "run"
    seen = {"first": None}

    def stop_when(elapsed: float) -> bool:
        if elapsed < budget:
            return False
        if system.saves_on_signal() is not None:
            return True  # it saves the current step on the signal and exits
        found = newest_checkpoint(system.name, run_dir)
        step = found[1] if found else -1
        if seen["first"] is None:
            seen["first"] = step
        # the first checkpoint written after the budget, once it is complete (no write for 3 s)
        return step > seen["first"] and time.time() - found[0].stat().st_mtime > 3.0

    print(f"[{system.name}/{system.model}] training for {minutes} min", flush=True)
    result = run_measured(
        system.train_command(),
        system.dir / "train.log",
        stop_when=stop_when,
        cwd=system.dir,
        stop_signal=system.saves_on_signal() or signal.SIGTERM,
    )
    log = system.train_log(result)
    found = newest_checkpoint(system.name, run_dir)
    results.update(
        train_seconds=round(result.seconds, 1),
        train_returncode=result.returncode,
        train_stopped_at_budget=result.stopped,
        train_peak_mb=round(result.peak_rss_mb),
        train_tok_s=throughput(log, system.data.mean_tgt_tokens),
        dev_ppl=log.dev_ppl,
        steps=found[1] if found else None,
    )
    if found is None:
        print(f"[{system.name}/{system.model}] no checkpoint; see {system.dir / 'train.log'}")
        return None
    return found[0]


def decode(system: System, checkpoint: Path, beam: int, results: dict, sp) -> None:
    """Translate the test set with `beam`, time it, detokenise and score it."""
    tag = "greedy" if beam == 1 else f"beam{beam}"
    out = system.dir / f"test.{tag}.txt"
    cmd, stdin, to_stdout = system.decode_command(checkpoint, beam, out)
    log = system.dir / f"decode.{tag}.log"
    result = run_measured(cmd, log, stdin=stdin, stdout=out if to_stdout else None)
    hyps = out.read_text(encoding="utf-8").splitlines()
    if system.hypotheses_are_pieces():
        hyps = decode_lines(sp, hyps)
    refs = system.data.test_ref_raw.read_text(encoding="utf-8").splitlines()
    if result.returncode != 0 or len(hyps) != len(refs):
        print(f"[{system.name}/{system.model}] {tag} decoding failed; see {system.dir}")
        results[f"{tag}_error"] = f"exit {result.returncode}, {len(hyps)} lines"
        return
    (system.dir / f"test.{tag}.detok.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    scores = corpus_scores(hyps, refs)
    results.update(
        {
            f"{tag}_seconds": round(result.seconds, 2),
            f"{tag}_sent_s": len(refs) / result.seconds,
            f"{tag}_peak_mb": round(result.peak_rss_mb),
            f"bleu_{tag}": round(scores.bleu, 2),
            f"chrf_{tag}": round(scores.chrf, 2),
            "bleu_signature": scores.bleu_signature,
        }
    )
    print(f"[{system.name}/{system.model}] {tag}: {result.seconds:.1f} s, BLEU {scores.bleu:.2f}")


def run_one(name: str, model: str, args, data: PeerData, sp) -> dict:
    row: dict = {"system": name, "model": model}
    if not pc.supports(name, model):
        row["unsupported"] = "no attention-free recurrent model in this toolkit"
        return row
    system = System(name, model, args.work, data, args.valid_every, args.precision, args.shortlist)
    system.write_configs(args.minutes)
    checkpoint = train(system, args.minutes, row)
    if checkpoint is not None:
        for beam in (1, 5):
            decode(system, checkpoint, beam, row, sp)
    return row


def machine_line() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, 2 threads, Python {platform.python_version()}, torch {torch.__version__}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=12.0, help="wall-clock training budget")
    p.add_argument("--systems", nargs="+", choices=pc.SYSTEMS, default=list(pc.SYSTEMS))
    p.add_argument("--models", nargs="+", choices=pc.MODELS, default=list(pc.MODELS))
    p.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "peers" / ".work")
    p.add_argument("--skip-install", action="store_true", help="use the venvs already there")
    p.add_argument("--valid-every", type=int, default=500, help="steps between validations")
    p.add_argument("--reverse-peer-source", action="store_true", help="peers read reversed source")
    p.add_argument(
        "--precision",
        choices=["fp32", "bf16", "auto"],
        default="auto",
        help="our training and search arithmetic (auto: bf16 where the CPU has AVX512-BF16)",
    )
    p.add_argument(
        "--shortlist",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="our search scores only each batch's lexical shortlist (default: on)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "peers",
        help="report path without suffix (.md and .json are written)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    installs = {}
    for name in (s for s in args.systems if s != "seq2seq"):
        if not args.skip_install:
            installs[name] = round(install_peer(name, args.work))
        elif not (args.work / "venvs" / name / "bin" / "python").exists():
            sys.exit(f"--skip-install, but there is no venv for {name} in {args.work / 'venvs'}")
    data = prepare_all(args.work, args.reverse_peer_source)
    sp = spm.SentencePieceProcessor(model_file=str(data.sp_model))
    rows: list[dict] = []
    for model in args.models:
        for name in args.systems:
            rows.append(run_one(name, model, args, data, sp))
            write_report(args, installs, data, rows)  # a killed run keeps the rows it finished
    print(table.markdown(write_report(args, installs, data, rows)))
    return 0


def write_report(args, installs: dict, data: PeerData, rows: list[dict]) -> dict:
    """The JSON and markdown report of the rows so far; returns the report."""
    import torch

    from seq2seq.precision import resolve

    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_line(),
        "minutes": args.minutes,
        "valid_every": args.valid_every,
        "reverse_peer_source": args.reverse_peer_source,
        "our_precision": resolve(args.precision, torch.device("cpu")),
        "our_shortlist": args.shortlist,
        "install_seconds": installs,
        "mean_tgt_tokens": round(data.mean_tgt_tokens, 3),
        "rows": rows,
        "comparisons": table.comparisons(rows),
        "goals": table.goals(rows),
        "notes": NOTES,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(table.markdown(report), encoding="utf-8")
    return report


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    print(f"done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    sys.exit(code)
