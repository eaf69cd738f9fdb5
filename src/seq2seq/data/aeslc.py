"""The AESLC corpus's own layout (Zhang & Tetreault 2019): e-mail bodies and their subject lines.

The Annotated Enron Subject Line Corpus ships as ``enron_subject_line/{train,dev,test}/*.subject``,
one e-mail a file: the body's lines, then a line ``@subject`` followed by the subject line; dev and
test files add ``@ann0``, ``@ann1``, ``@ann2``, each followed by one annotator's subject. A body
line may itself begin with ``@``; only a line that is exactly a marker starts a section.

`read_email` parses one file, `read_split` a folder (files in name order, so the output is
reproducible), and `write_aeslc` writes the line-aligned files the toolkit's other commands read:
``NAME.src`` (the body on one line, whitespace collapsed), ``NAME.tgt`` (``@subject``) and, where
the files carry annotations, ``NAME.ann0`` ... (extra references for `seq2seq evaluate --ref`),
plus ``split.json`` (sizes and inputs). Text is written as found (case and punctuation kept);
lower-casing and splitting punctuation off words is the vocabulary's work (``seq2seq prepare
--lowercase --split-punct``), and ROUGE tokenises for itself (evaluate/metrics.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seq2seq.data.io import AtomicTextFile, clean_line, iter_lines
from seq2seq.errors import DataError

SUBJECT = "subject"
SPLITS: tuple[str, ...] = ("train", "dev", "test")
CORPUS_FOLDER = "enron_subject_line"
MANIFEST = "split.json"
_MARKER = re.compile(r"^@(subject|ann\d+)$")


@dataclass(frozen=True)
class Email:
    """One AESLC file: its body on one line, its subject, and the annotators' subjects in order."""

    name: str
    body: str
    subject: str
    annotations: tuple[str, ...] = ()


def read_email(path: str | Path) -> Email:
    """Parse one ``.subject`` file; a file without a ``@subject`` section, with an empty body or
    an empty section, or with a section twice, is a DataError naming the file."""
    sections: dict[str, list[str]] = {}
    body: list[str] = []
    current = body
    for line in iter_lines(path):
        marker = _MARKER.match(line.strip())
        if marker is None:
            current.append(line)
            continue
        if marker[1] in sections:
            raise DataError(f"{path}: the e-mail has two @{marker[1]} sections")
        current = sections[marker[1]] = []
    if SUBJECT not in sections:
        raise DataError(f"{path}: the e-mail has no @subject line")
    text = {name: clean_line(" ".join(lines)) for name, lines in sections.items()}
    if not clean_line(" ".join(body)):
        raise DataError(f"{path}: the e-mail's body before @subject is empty")
    empty = next((name for name, value in text.items() if not value), None)
    if empty is not None:
        raise DataError(f"{path}: the e-mail's @{empty} section is empty")
    annotations = sorted((n for n in text if n != SUBJECT), key=lambda n: int(n[3:]))
    if annotations != [f"ann{i}" for i in range(len(annotations))]:
        raise DataError(
            f"{path}: the annotations are {', '.join(annotations)}, not ann0, ann1, ..."
        )
    return Email(
        name=Path(path).name,
        body=clean_line(" ".join(body)),
        subject=text[SUBJECT],
        annotations=tuple(text[n] for n in annotations),
    )


def read_split(folder: str | Path) -> list[Email]:
    """Every e-mail file of one split's folder, in file-name order; every file must carry the
    same number of annotations (none on train), else a DataError names the first that differs."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"the AESLC split folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DataError(f"the AESLC split folder {folder} holds no e-mail file")
    emails = [read_email(path) for path in files]
    count = len(emails[0].annotations)
    for path, email in zip(files, emails):
        if len(email.annotations) != count:
            raise DataError(
                f"{path}: {len(email.annotations)} annotated subjects, but {files[0].name} in "
                f"the same folder has {count}"
            )
    return emails


def corpus_splits(root: str | Path) -> dict[str, Path]:
    """The split folders of an AESLC copy: ``ROOT/enron_subject_line/NAME`` (or ``ROOT/NAME``) for
    each of train, dev, test present; train is required."""
    root = Path(root)
    base = root / CORPUS_FOLDER if (root / CORPUS_FOLDER).is_dir() else root
    found = {name: base / name for name in SPLITS if (base / name).is_dir()}
    if "train" not in found:
        raise DataError(
            f"{root} is not an AESLC copy: it has no {CORPUS_FOLDER}/train (or train) folder"
        )
    return found


def write_aeslc(
    root: str | Path, out_dir: str | Path, suffixes: Sequence[str] = ("src", "tgt")
) -> dict[str, dict[str, int]]:
    """Read every split of the AESLC copy at `root` and write its aligned files to `out_dir` (see
    the module doc), each atomically; returns {split: {"pairs": n, "references": k}}."""
    emails = {name: read_split(folder) for name, folder in corpus_splits(root).items()}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, dict[str, int]] = {}
    files: dict[str, list[str]] = {}
    for name, split in emails.items():
        columns = {suffixes[0]: [e.body for e in split], suffixes[1]: [e.subject for e in split]}
        for i in range(len(split[0].annotations)):
            columns[f"ann{i}"] = [e.annotations[i] for e in split]
        for suffix, lines in columns.items():
            with AtomicTextFile(out / f"{name}.{suffix}") as handle:
                handle.writelines(line + "\n" for line in lines)
        sizes[name] = {"pairs": len(split), "references": len(columns) - 1}
        files[name] = [f"{name}.{suffix}" for suffix in columns]
    manifest = {"corpus": "aeslc", "inputs": [str(root)], "splits": sizes, "files": files}
    with AtomicTextFile(out / MANIFEST) as handle:
        handle.write(json.dumps(manifest, indent=2) + "\n")
    return sizes
