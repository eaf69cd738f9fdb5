"""Seeded train/dev/test splits that keep every copy of a group (a question, a word) on one side.

A corpus with no official split (the Korean chatbot pairs, CMUdict, Tatoeba) needs one that anyone
can rebuild, and that does not leak: a question asked twice with two answers, or a word with two
pronunciations, must not be in training and in test at once. So pairs are grouped by a key (by
default the cleaned source text; `group_key` can strip a variant marker such as CMUdict's
``word(2)``), the distinct keys are sorted and shuffled with the seed, the first ones go to test,
the next to dev, the rest to train, and each group takes all of its pairs along. Within a split the
pairs keep their order in the input file.

Inputs: a CSV file with a header (`read_csv_pairs`, columns chosen by name), a TSV file or two
line-aligned files (`data.io.ParallelSource`). Outputs: aligned plain-text files, one per split and
side (``train.src``, ``train.tgt``, ...), each written atomically, and ``split.json`` recording the
seed, the sizes and the input.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seq2seq.data.io import AtomicTextFile, ParallelSource, clean_line, iter_lines
from seq2seq.errors import DataError

Pair = tuple[str, str]
SPLIT_NAMES: tuple[str, str, str] = ("train", "dev", "test")
SIDE_SUFFIXES: tuple[str, str] = ("src", "tgt")
MANIFEST = "split.json"


def read_csv_pairs(path: str | Path, source_column: str, target_column: str) -> Iterator[Pair]:
    """Yield cleaned (source, target) pairs from a CSV file with a header row, columns by name.

    Quoted fields may hold commas and line breaks (whitespace is then collapsed as everywhere).
    A pair with an empty side is skipped. A column name the header lacks is a DataError naming the
    file and the columns it has; a row with too few fields names file:line.
    """
    reader = csv.reader(line + "\n" for line in iter_lines(path))  # a quoted field may span lines
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise DataError(f"{path} is empty; expected a CSV header row") from None
    except csv.Error as err:
        raise DataError(f"{path}:1: not a valid CSV header ({err})") from None
    positions = [_column(path, header, name) for name in (source_column, target_column)]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise DataError(f"{path}:{reader.line_num}: not valid CSV ({err})") from None
        if not row:
            continue  # a blank line
        if len(row) <= max(positions):
            raise DataError(
                f"{path}:{reader.line_num}: {len(row)} fields, but the header has {len(header)}"
            )
        src, tgt = (clean_line(row[i]) for i in positions)
        if src and tgt:
            yield src, tgt


def _column(path: str | Path, header: list[str], name: str) -> int:
    if name not in header:
        raise DataError(
            f"{path} has no column '{name}'; its columns are {', '.join(header) or '(none)'}"
        )
    return header.index(name)


def read_pairs(
    *,
    csv_path: str | Path | None = None,
    columns: tuple[str, str] | None = None,
    source: ParallelSource | None = None,
) -> list[Pair]:
    """Every cleaned pair of a CSV file (with its two column names) or of a `ParallelSource`."""
    if (csv_path is None) == (source is None):
        raise DataError("give either a CSV file or a parallel source (a TSV or two files)")
    if csv_path is not None:
        if columns is None:
            raise DataError(f"{csv_path}: name the source and target columns of the CSV file")
        return list(read_csv_pairs(csv_path, *columns))
    assert source is not None  # exactly one of the two, checked above
    return list(source.pairs())


def key_stripping(pattern: str | None) -> Callable[[str], str]:
    """A grouping key: the source with every match of the regular expression `pattern` removed
    (``r"\\(\\d+\\)$"`` groups CMUdict's ``word(2)`` with ``word``); the source itself for None."""
    if pattern is None:
        return lambda source: source
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise DataError(
            f"the grouping pattern '{pattern}' is not a regular expression ({err})"
        ) from None
    return lambda source: regex.sub("", source).strip()


@dataclass
class Split:
    """The pairs of each split, in input order, and how many distinct groups each holds."""

    pairs: dict[str, list[Pair]]
    groups: dict[str, int]
    seed: int
    inputs: list[str] = field(default_factory=list)

    def sizes(self) -> dict[str, dict[str, int]]:
        return {
            name: {"pairs": len(p), "groups": self.groups[name]} for name, p in self.pairs.items()
        }


def _group_count(size: int | float, total: int, what: str) -> int:
    """`size` groups: an int is a count, a float in (0, 1) a share of `total`, rounded."""
    if isinstance(size, bool) or not isinstance(size, int | float):
        raise DataError(f"the {what} size must be a number of groups or a share, not {size!r}")
    if isinstance(size, float):
        if not 0.0 < size < 1.0:
            raise DataError(f"the {what} share must lie strictly between 0 and 1, not {size}")
        return max(1, round(size * total))
    if size < 0:
        raise DataError(f"the {what} size must not be negative, not {size}")
    return size


def split_pairs(
    pairs: Sequence[Pair],
    *,
    dev: int | float,
    test: int | float,
    seed: int,
    group_key: Callable[[str], str] | None = None,
    names: Sequence[str] = SPLIT_NAMES,
) -> Split:
    """Split `pairs` into train, dev and test (`names` renames them) by a seeded shuffle of the
    distinct group keys: `test` groups first, then `dev`, the rest train. Sizes count groups (an
    int) or a share of them (a float in (0, 1)); every pair of a group lands in one split."""
    key = group_key or (lambda source: source)
    keys = [key(src) for src, _ in pairs]
    distinct = sorted(set(keys))
    n_test = _group_count(test, len(distinct), "test")
    n_dev = _group_count(dev, len(distinct), "dev")
    if n_test + n_dev >= len(distinct):
        raise DataError(
            f"{n_dev} dev and {n_test} test groups leave none of the {len(distinct)} groups "
            "for training"
        )
    random.Random(seed).shuffle(distinct)
    train_name, dev_name, test_name = _names(names)
    side = {k: test_name for k in distinct[:n_test]}
    side.update({k: dev_name for k in distinct[n_test : n_test + n_dev]})
    out: dict[str, list[Pair]] = {train_name: [], dev_name: [], test_name: []}
    for pair, k in zip(pairs, keys):
        out[side.get(k, train_name)].append(pair)
    counts = {train_name: len(distinct) - n_test - n_dev, dev_name: n_dev, test_name: n_test}
    return Split(pairs=out, groups=counts, seed=seed)


def _names(names: Sequence[str]) -> tuple[str, str, str]:
    if len(names) != 3 or len(set(names)) != 3 or not all(_safe_name(n) for n in names):
        raise DataError(
            f"split names must be three different file-name parts, not {', '.join(names)}"
        )
    return names[0], names[1], names[2]


def _safe_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..")


def split_paths(
    out_dir: str | Path, names: Iterable[str], suffixes: Sequence[str] = SIDE_SUFFIXES
) -> dict[str, tuple[Path, Path]]:
    """The two files of each split: ``OUT/NAME.SRC_SUFFIX`` and ``OUT/NAME.TGT_SUFFIX``."""
    if len(suffixes) != 2 or suffixes[0] == suffixes[1] or not all(map(_safe_name, suffixes)):
        raise DataError(
            f"file suffixes must be two different names, not {', '.join(suffixes) or '(none)'}"
        )
    out = Path(out_dir)
    return {name: (out / f"{name}.{suffixes[0]}", out / f"{name}.{suffixes[1]}") for name in names}


def write_split(
    split: Split, out_dir: str | Path, suffixes: Sequence[str] = SIDE_SUFFIXES
) -> list[Path]:
    """Write each split as two aligned text files and the manifest ``split.json``, each one
    atomically (complete or absent); returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = split_paths(out, split.pairs, suffixes)
    for name, files in paths.items():
        for side, path in enumerate(files):
            with AtomicTextFile(path) as handle:
                handle.writelines(pair[side] + "\n" for pair in split.pairs[name])
    manifest = {
        "seed": split.seed,
        "inputs": split.inputs,
        "splits": split.sizes(),
        "files": {name: [p.name for p in files] for name, files in paths.items()},
    }
    with AtomicTextFile(out / MANIFEST) as handle:
        handle.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return [p for files in paths.values() for p in files] + [out / MANIFEST]
