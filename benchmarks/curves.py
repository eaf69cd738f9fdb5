"""Learning curves of training runs as PNG: training loss, train/dev perplexity, dev BLEU by step.

    python benchmarks/curves.py RUN_DIR OUT.png [RUN_DIR OUT.png ...]
    python benchmarks/curves.py runs/experiments/multi30k-en-fr docs/multi30k-en-fr-curves.png

Each run directory's log.jsonl is read as the trainer wrote it (a resumed run's log included).
"""

from __future__ import annotations

import sys
from pathlib import Path

from seq2seq.evaluate.plots import plot_training_curves
from seq2seq.train.metrics_log import read_log


def main(argv: list[str]) -> int:
    if len(argv) % 2 or not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for run, out in zip(argv[::2], argv[1::2], strict=True):
        log = Path(run) / "log.jsonl"
        path = plot_training_curves(read_log(log, "train"), read_log(log, "valid"), out)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
