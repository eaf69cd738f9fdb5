"""Make the small Korean question/answer slice the tests and the tutorial use, from ../shared.

    python tests/data/chatbot-ko/make_slice.py            # rewrite ChatbotData.slice.csv.gz here
    python tests/data/chatbot-ko/make_slice.py --check    # only compare it with a fresh build

The source is `../shared/data/chatbot-ko/ChatbotData.csv` (columns Q,A,label; songys/Chatbot_data,
MIT, see README.md here). The output is a CSV file with the same header and PAIRS of its rows,
gzipped with no name and no time stamp, so that the same source gives the same bytes:

- rows are grouped by their question (whitespace normalised): a question asked twice is taken
  with all its answers or not at all, so a grouped split of the slice behaves like one of the
  whole set;
- the groups are sorted, shuffled with SEED, and taken in that order until PAIRS rows are
  reached (a group that does not fit in what is left is passed over);
- the rows keep their order in the source file; a label's stray spaces are removed.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import random
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2].parent / "shared" / "data" / "chatbot-ko" / "ChatbotData.csv"
OUTPUT = "ChatbotData.slice.csv.gz"
SEED = "chatbot-ko test slice, version 1"
PAIRS = 3000
HEADER = ["Q", "A", "label"]


def read_rows(source: Path) -> list[list[str]]:
    """The source's rows (question, answer, label), whitespace normalised, header checked."""
    with open(source, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        if next(reader) != HEADER:
            raise SystemExit(f"{source}: expected the header {','.join(HEADER)}")
        rows = [[" ".join(field.split()) for field in row] for row in reader]
    bad = next((i for i, row in enumerate(rows, 2) if len(row) != 3 or not all(row[:2])), None)
    if bad is not None:
        raise SystemExit(f"{source}:{bad}: expected a question, an answer and a label")
    return rows


def choose(rows: list[list[str]]) -> list[list[str]]:
    """PAIRS rows, whole question groups only, in source order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        groups[row[0]].append(index)
    questions = sorted(groups)
    random.Random(SEED).shuffle(questions)
    chosen: list[int] = []
    for question in questions:
        if len(chosen) + len(groups[question]) <= PAIRS:
            chosen.extend(groups[question])
        if len(chosen) == PAIRS:
            break
    return [rows[i] for i in sorted(chosen)]


def gzipped_csv(rows: list[list[str]]) -> bytes:
    """The rows under HEADER as CSV, gzipped with no name and no time stamp in the header."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as handle:
        handle.write(text.getvalue().encode("utf-8"))
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="ChatbotData.csv")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the slice")
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"{args.source} does not exist (give --source)")
    rows = choose(read_rows(args.source))
    data = gzipped_csv(rows)
    path = args.out / OUTPUT
    print(
        f"{path.name}  {len(rows)} pairs  {len(data):,} bytes  sha256 {hashlib.sha256(data).hexdigest()}"
    )
    if args.check and (not path.is_file() or path.read_bytes() != data):
        print(f"differs from a fresh build: {path.name}", file=sys.stderr)
        return 1
    if not args.check:
        path.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
