"""`seq2seq demo`: prepare -> train -> translate on a synthetic language, with no download.

The task (see `demo_task.py`) needs reordering, agreement across the sentence and plural marking,
so a model must really learn it. The model is the paper's: an LSTM encoder-decoder whose decoder
starts from the encoder's final state, fed the source in reverse (§3.3), decoded greedily.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import sacrebleu

from seq2seq.config import Config
from seq2seq.demo_task import make_splits

SIZES = {"train": 12000, "valid": 200, "test": 300}
# The demo's pair: English sentences into a made-up language (a private-use code, BCP 47 'x-'),
# recorded by prepare so the demo's checkpoint is servable as it is (`seq2seq serve`).
LANGUAGES = ("en", "x-demo")


def demo_config(
    data_dir: Path, run_dir: Path, minutes: float, seed: int, max_steps: int | None = None
) -> Config:
    """A small paper-style model that learns the demo task in about two minutes on 2 cores."""
    return Config.model_validate(
        {
            "data": {"dir": str(data_dir), "reverse_source": True, "batch_size": 64},
            "model": {
                "cell": "lstm",
                "embedding_size": 128,
                "hidden_size": 256,
                "layers": 1,
                "context": "init",
            },
            "train": {
                "out_dir": str(run_dir),
                "seed": seed,
                "optimizer": "adam",
                "lr": 0.005,
                "schedule": "constant",
                "normalize": "tokens",
                "epochs": 8,
                "max_minutes": minutes,
                "max_steps": max_steps,
                "valid_every": 250,
                "log_every": 25,
                "valid_bleu": True,
                "best_metric": "bleu",
                "tensorboard": False,
                "threads": min(2, os.cpu_count() or 1),
            },
        }
    )


def write_corpus(folder: Path, seed: int) -> dict[str, tuple[Path, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, pairs in make_splits(SIZES, seed=seed).items():
        src, tgt = folder / f"{split}.src", folder / f"{split}.tgt"
        src.write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
        tgt.write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
        paths[split] = (src, tgt)
    return paths


def run_demo(
    work: Path, minutes: float = 2.0, seed: int = 1, examples: int = 5, max_steps: int | None = None
) -> dict[str, float]:
    """The whole pipeline in `work`; returns exact-match accuracy and BLEU on the test split."""
    from seq2seq.commands.train import ProgressBar
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import prepare
    from seq2seq.decode.translator import Translator
    from seq2seq.experiment import build_trainer

    start = time.perf_counter()
    corpus = write_corpus(work / "corpus", seed)
    print(
        f"[1/3] prepare: {SIZES['train']:,} synthetic sentence pairs -> word vocabularies",
        file=sys.stderr,
    )
    prepare(
        work / "data",
        ParallelSource(*corpus["train"]),
        valid=ParallelSource(*corpus["valid"]),
        vocab="word",
        task="translation",
        src_lang=LANGUAGES[0],
        tgt_lang=LANGUAGES[1],
    )
    print("[2/3] train: LSTM encoder-decoder, reversed source (paper §3.3)", file=sys.stderr)
    config = demo_config(work / "data", work / "run", minutes, seed, max_steps)
    with ProgressBar(True) as progress:  # the trainer reports; the command draws
        build_trainer(config, overwrite=True).fit(progress)

    print("[3/3] translate the held-out test sentences (greedy)", file=sys.stderr)
    src_lines = corpus["test"][0].read_text(encoding="utf-8").splitlines()
    refs = corpus["test"][1].read_text(encoding="utf-8").splitlines()
    translator = Translator.load(work / "run" / "best.safetensors")
    hyps = cast(list[str], translator.translate(src_lines, beam_size=1, n_best=1))  # strings
    for src, hyp, ref in list(zip(src_lines, hyps, refs))[:examples]:
        mark = "ok " if hyp == ref else "   "
        print(f"{mark} source:    {src}\n    output:    {hyp}\n    reference: {ref}\n")
    accuracy = sum(h == r for h, r in zip(hyps, refs)) / len(refs)
    bleu = sacrebleu.corpus_bleu(hyps, [refs])
    elapsed = time.perf_counter() - start
    print(
        f"test: exact match {100 * accuracy:.1f}% of {len(refs)} sentences, "
        f"BLEU {bleu.score:.1f}; wall time {elapsed:.0f} s"
    )
    return {"accuracy": accuracy, "bleu": bleu.score, "seconds": elapsed}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="keep the demo's files here (default: a temp dir)"
    )
    parser.add_argument(
        "--minutes", type=float, default=2.0, help="training time budget (default 2)"
    )
    parser.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.io import check_writable
    from seq2seq.errors import ConfigError

    if not args.minutes > 0:
        raise ConfigError(f"--minutes must be more than 0, got {args.minutes}")
    if args.out is not None:
        check_writable(args.out, "--out", directory=True)
    if args.out is not None:
        run_demo(args.out, args.minutes, args.seed)
        print(
            f"files in {args.out}; try: seq2seq translate --checkpoint {args.out}/run/best.safetensors"
            f"\n  or serve it: seq2seq serve --checkpoint {args.out}/run/best.safetensors"
        )
        return 0
    with tempfile.TemporaryDirectory(prefix="seq2seq-demo-") as tmp:
        run_demo(Path(tmp), args.minutes, args.seed)
    return 0
