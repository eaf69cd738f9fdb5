"""Streaming a large prepared corpus: resident memory over an epoch, and resuming mid-epoch.

    python benchmarks/scale/stream_bench.py --data /tmp/scale/p1m [--batch-tokens 8192]

Reads one epoch of the training split of a data directory written by `seq2seq prepare` (its
token-id files; see src/seq2seq/data/shards.py) exactly as the trainer does, under the malloc
settings of `seq2seq train`: `make_batches(...,
shuffle=True)` with a token budget, every batch built as tensors and handed on. It records the
process's resident set (VmRSS) after 1%, 2%, 5%, 10%, 25%, 50%, 75% and 100% of the epoch's
batches and the spread of those readings around the 1% one. Then, as a resumed run would, a new
iterator starts at the middle of the epoch (`iter_epoch(epoch, skip=half)`): the time to its first
batch, the buckets whose tokens it read, and that batch compared with the one an unbroken pass
yields there. Last, one bucket read from the ids files against the same bucket encoded from the
text (what every epoch cost before the ids files). Results go to
benchmarks/results/scale_streaming.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command, machine, peak_rss_mb, rss_mb, table, write_results  # noqa: E402

MARKS = (0.01, 0.02, 0.05, 0.10, 0.25, 0.50, 0.75, 1.00)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a prepared data directory")
    parser.add_argument("--batch-tokens", type=int, default=8192)
    parser.add_argument("--bucket-size", type=int, default=100_000)
    parser.add_argument("--epoch", type=int, default=0)
    args = parser.parse_args()

    import torch

    from seq2seq.config import DataConfig
    from seq2seq.data.batching import ParallelCorpus, make_batches
    from seq2seq.data.prepare import load_prepared
    from seq2seq.runtime import keep_freed_memory

    keep_freed_memory()  # the malloc settings `seq2seq train` runs under (seq2seq/runtime.py)
    torch.set_num_threads(1)
    data = load_prepared(args.data)
    cfg = DataConfig(dir=args.data, batch_tokens=args.batch_tokens, bucket_size=args.bucket_size)
    start_rss = rss_mb()
    batches = make_batches(data, "train", cfg, shuffle=True, seed=1)
    pairs = len(batches.corpus)
    t0 = time.perf_counter()
    total = batches.num_batches()
    count_s = time.perf_counter() - t0

    marks = {max(1, round(m * total)): m for m in MARKS}
    readings: list[dict] = []
    tokens = rows = 0
    checksum = 0
    t0 = time.perf_counter()
    mid_batch = None
    half = total // 2
    for n, batch in enumerate(batches.iter_epoch(args.epoch), 1):
        batch = batch.to("cpu")
        tokens += batch.n_tgt_tokens
        rows += len(batch)
        checksum += int(batch.src.sum())  # touch every tensor, as a model would
        if n == half + 1:
            mid_batch = (batch.indices.tolist(), batch.src.tolist(), batch.position)
        if n in marks:
            readings.append(
                {
                    "share": marks[n],
                    "batches": n,
                    "seconds": round(time.perf_counter() - t0, 2),
                    "rss_mb": round(rss_mb(), 1),
                }
            )
    epoch_s = time.perf_counter() - t0
    base = readings[0]["rss_mb"]
    spread = [round(100 * (r["rss_mb"] - base) / base, 2) for r in readings]

    # resume at the middle of the epoch, as a new process would (a fresh iterator)
    resumed = make_batches(data, "train", cfg, shuffle=True, seed=1)
    reads: list[list[tuple[int, int]]] = []  # the buckets whose tokens were read
    original = resumed.corpus.read_ranges
    resumed.corpus.read_ranges = lambda ranges, g=1: reads.append(ranges) or original(ranges, g)
    t0 = time.perf_counter()
    first = next(resumed.iter_epoch(args.epoch, skip=half))
    resume_s = time.perf_counter() - t0
    resumed_batch = (first.indices.tolist(), first.src.tolist(), first.position)

    peak = peak_rss_mb()  # the epoch and the resume; the text comparison below allocates more

    # one bucket from the ids files against the same bucket encoded from the text
    t0 = time.perf_counter()
    batches.corpus.read_bucket(0, args.bucket_size)
    ids_bucket_s = time.perf_counter() - t0
    text = ParallelCorpus(*data.split_paths("train"), data.src_vocab, data.tgt_vocab)
    t0 = time.perf_counter()
    text.read_bucket(0, args.bucket_size)
    text_bucket_s = time.perf_counter() - t0

    info = {
        "command": command(),
        "machine": machine(),
        "data": str(args.data),
        "pairs": pairs,
        "batch_tokens": args.batch_tokens,
        "bucket_size": args.bucket_size,
        "batches": total,
        "sentences": rows,
        "target_tokens": tokens,
        "count_batches_s": round(count_s, 2),
        "epoch_s": round(epoch_s, 1),
        "batches_per_s": round(total / epoch_s),
        "target_tokens_per_s": round(tokens / epoch_s),
        "rss_before_mb": round(start_rss, 1),
        "rss": readings,
        "rss_change_from_1pct_percent": spread,
        "rss_flat_within_10pct": max(abs(x) for x in spread) <= 10,
        "peak_rss_mb": round(peak, 1),
        "resume": {
            "skip": half,
            "first_batch_s": round(resume_s, 2),
            "buckets_read": len(reads),
            "buckets_in_epoch": len(batches.layout),
            "same_batch_as_unbroken_pass": resumed_batch == mid_batch,
            "unbroken_pass_to_same_point_s": round(
                next(r["seconds"] for r in readings if r["share"] == 0.5), 2
            ),
        },
        "bucket_read_s": {"ids": round(ids_bucket_s, 4), "text_encoded": round(text_bucket_s, 2)},
        "checksum": checksum,
    }
    rows_md = [["share of epoch", "batches", "seconds", "RSS MB", "change from 1%"]]
    for r, s in zip(readings, spread, strict=True):
        rows_md.append([f"{100 * r['share']:.0f}%", f"{r['batches']:,}", f"{r['seconds']:.1f}",
                        f"{r['rss_mb']:.1f}", f"{s:+.2f}%"])  # fmt: skip
    res = info["resume"]
    md = f"""# Streaming an epoch of {pairs:,} pairs ({info["machine"]["date"]})

`{info["command"]}`: token budget {args.batch_tokens:,}, buckets of {args.bucket_size:,} pairs,
read from the token-id files (no tokenising), every batch built as tensors.

{table(rows_md)}

- One epoch: {total:,} batches, {rows:,} sentences, {tokens:,} target tokens in {info["epoch_s"]} s
  ({info["target_tokens_per_s"]:,} target tokens/s of batches); counting the epoch's batches
  from the stored lengths alone: {info["count_batches_s"]} s.
- Resident memory from 1% to 100% of the epoch: {min(spread):+.2f}% to {max(spread):+.2f}% of
  the 1% reading (flat within ±10%: {info["rss_flat_within_10pct"]}); peak over the epoch and the resume
  {info["peak_rss_mb"]} MB (PyTorch and the vocabularies included).
- Resuming at batch {res["skip"]:,} (mid-epoch) in a fresh iterator: first batch after
  {res["first_batch_s"]} s, reading the tokens of {res["buckets_read"]} of {res["buckets_in_epoch"]}
  buckets; the batch equals the unbroken pass's: {res["same_batch_as_unbroken_pass"]}. Replaying
  the epoch to the same point took {res["unbroken_pass_to_same_point_s"]} s.
- One bucket of {args.bucket_size:,} pairs: {info["bucket_read_s"]["ids"]} s from the ids files,
  {info["bucket_read_s"]["text_encoded"]} s read and encoded from the text (the old path, every epoch).
"""
    path = write_results("streaming", info, md)
    print(md)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
