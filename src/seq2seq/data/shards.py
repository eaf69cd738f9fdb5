"""The binary form of a prepared split: token ids on disk, encoded once, read a bucket at a time.

`seq2seq prepare` encodes every pair once to count lengths and unknown words; it also writes the
ids it computed, so training never tokenises the text again (at the paper's 12M pairs, encoding
costs as much as several minutes of training per epoch). Three files per split, all little-endian:

    <split>.src.ids    the source ids of every pair, back to back, no BOS/EOS (uint16 when the
                       vocabulary has at most 65,536 entries, else uint32)
    <split>.tgt.ids    the target ids, likewise
    <split>.offsets    int64, (pairs + 1) rows of (source offset, target offset): pair i is
                       src[off[i, 0]:off[i + 1, 0]] and tgt[off[i, 1]:off[i + 1, 1]]

and an entry ``"ids"`` in the split's manifest record (`IdsWriter.info`): format, version, file
names, dtypes, pairs and token counts. Both ids files together take 2-4 bytes per token; the
offsets 16 bytes per pair.

`IdsCorpus` reads a range of pairs with positioned reads (``pread``), never by memory-mapping the
files: a process that maps a 2 GB file and reads it through holds every touched page in its
resident set until the kernel needs the memory, so RSS would grow with the share of the epoch
done; read into buffers, the data lives in the page cache and the process holds one bucket.
`IdsCorpus` and `batching.ParallelCorpus` are the two kinds of `batching.Corpus` (``len``,
``read_ranges`` and ``read_bucket`` giving an `IdsBucket`, ``range_lengths``); only here are the
lengths known from the offsets alone (``range_lengths``), which lets the batch iterator count a
bucket's batches, and so skip it on resume, without reading its tokens.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq.data.io import AtomicTextFile
from seq2seq.errors import DataError

FORMAT = "seq2seq-ids"
VERSION = 1
_OFFSET_DTYPE = np.dtype("<i8")
_DTYPES: dict[str, np.dtype] = {"uint16": np.dtype("<u2"), "uint32": np.dtype("<u4")}


def ids_dtype(vocab_size: int) -> str:
    """The narrowest id type that holds every id of a vocabulary of this size."""
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def file_names(split: str) -> tuple[str, str, str]:
    """(source ids, target ids, offsets) file names of a split."""
    return f"{split}.src.ids", f"{split}.tgt.ids", f"{split}.offsets"


class IdsWriter:
    """Writes one split's ids files through temporary names, renamed into place when the block ends.

        with IdsWriter(out, "train", src_vocab_size, tgt_vocab_size) as writer:
            writer.add(src_id_lists, tgt_id_lists)   # any number of times
        manifest_entry = writer.info()

    An exception inside the ``with`` block removes the temporary files and leaves no ids file.
    """

    def __init__(self, directory: str | Path, split: str, src_vocab_size: int, tgt_vocab_size: int):
        self.directory = Path(directory)
        self.split = split
        self.names = file_names(split)
        self.dtypes = (ids_dtype(src_vocab_size), ids_dtype(tgt_vocab_size))
        self._limits = (src_vocab_size, tgt_vocab_size)
        self._files = ExitStack()
        self._handles: list[Any] = []
        self.pairs = 0
        self.tokens = [0, 0]

    def __enter__(self) -> IdsWriter:
        files = [AtomicTextFile(self.directory / name, binary=True) for name in self.names]
        with ExitStack() as opening:
            self._handles = [opening.enter_context(file) for file in files]
            self._files = opening.pop_all()
        np.zeros((1, 2), _OFFSET_DTYPE).tofile(self._handles[2])
        return self

    def add(self, src: list[list[int]], tgt: list[list[int]]) -> None:
        """Append aligned lists of id lists (one entry per pair)."""
        if len(src) != len(tgt):
            raise ValueError(f"{len(src)} source sentences but {len(tgt)} target sentences")
        if not src:
            return
        ends = np.empty((len(src), 2), _OFFSET_DTYPE)
        for side, (lists, handle) in enumerate(zip((src, tgt), self._handles[:2])):
            lengths = np.fromiter(map(len, lists), np.int64, count=len(lists))
            total = int(lengths.sum())
            ids = np.fromiter(itertools.chain.from_iterable(lists), np.int64, count=total)
            if total and (ids.min() < 0 or ids.max() >= self._limits[side]):
                raise DataError(f"id outside the vocabulary in the {self.split} split")
            ids.astype(_DTYPES[self.dtypes[side]]).tofile(handle)
            ends[:, side] = self.tokens[side] + np.cumsum(lengths)
            self.tokens[side] += total
        ends.tofile(self._handles[2])
        self.pairs += len(src)

    def __exit__(self, exc_type, exc, tb) -> None:
        """Rename the three files into place (fsynced, `AtomicTextFile`), or remove them all."""
        self._files.__exit__(exc_type, exc, tb)

    def info(self) -> dict[str, Any]:
        """The split's manifest entry for these files."""
        src, tgt, offsets = self.names
        return {
            "format": FORMAT,
            "version": VERSION,
            "src": src,
            "tgt": tgt,
            "offsets": offsets,
            "src_dtype": self.dtypes[0],
            "tgt_dtype": self.dtypes[1],
            "pairs": self.pairs,
            "src_tokens": self.tokens[0],
            "tgt_tokens": self.tokens[1],
        }


def _read(path: Path, dtype: np.dtype, first: int, count: int) -> np.ndarray:
    """`count` items of `dtype` from item `first` of a file, by one positioned read."""
    out = np.empty(count, dtype)
    if count == 0:
        return out
    view = out.data.cast("B")
    fd = os.open(path, os.O_RDONLY)
    try:
        done, offset = 0, first * dtype.itemsize
        while done < len(view):
            n = os.preadv(fd, [view[done:]], offset + done)
            if n == 0:
                raise DataError(
                    f"{path} is shorter than its manifest says; run `seq2seq prepare` again"
                )
            done += n
    finally:
        os.close(fd)
    return out


class IdsCorpus:
    """The encoded pairs of one split, from the files `IdsWriter` wrote (see the module doc).

    `paths` are the split's text files and `src_vocab` / `tgt_vocab` its vocabularies, when
    given, as on a `ParallelCorpus` (for messages and readers of the text); `ids_paths` are the
    (source ids, target ids, offsets) files read here.
    """

    def __init__(
        self,
        directory: str | Path,
        info: dict[str, Any],
        src_vocab: Any = None,
        tgt_vocab: Any = None,
        text_paths: tuple[Path, Path] | None = None,
    ):
        directory = Path(directory)
        self.paths = text_paths
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        if info.get("format") != FORMAT or info.get("version") != VERSION:
            raise DataError(
                f"{directory}: ids files of format {info.get('format')} version "
                f"{info.get('version')}; this toolkit reads {FORMAT} version {VERSION}"
            )
        self.ids_paths = tuple(directory / info[key] for key in ("src", "tgt", "offsets"))
        self.dtypes = (_DTYPES[info["src_dtype"]], _DTYPES[info["tgt_dtype"]])
        self._size = int(info["pairs"])
        expected = (
            int(info["src_tokens"]) * self.dtypes[0].itemsize,
            int(info["tgt_tokens"]) * self.dtypes[1].itemsize,
            (self._size + 1) * 2 * _OFFSET_DTYPE.itemsize,
        )
        for path, size in zip(self.ids_paths, expected):
            if not path.is_file():
                raise DataError(
                    f"{path} is missing but the manifest lists it; run `seq2seq prepare` again"
                )
            if path.stat().st_size != size:
                raise DataError(
                    f"{path} has {path.stat().st_size:,} bytes, the manifest says {size:,}; "
                    "it is truncated or from another run: run `seq2seq prepare` again"
                )

    def __len__(self) -> int:
        return self._size

    def offsets(self, first: int, count: int) -> np.ndarray:
        """Rows ``first .. first + count`` (inclusive) of the offsets: (count + 1, 2) int64."""
        return _read(self.ids_paths[2], _OFFSET_DTYPE, 2 * first, 2 * (count + 1)).reshape(-1, 2)

    def range_lengths(self, ranges: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """Source and target lengths of the pairs of some (first, count) ranges, in order, from
        the offsets alone."""
        lengths = np.concatenate([np.diff(self.offsets(f, n), axis=0) for f, n in ranges])
        return lengths[:, 0], lengths[:, 1]

    def read_range(self, first: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(source ids, target ids, offsets relative to them) of pairs ``first .. first+count-1``."""
        off = self.offsets(first, count)
        start = off[0].copy()
        src = _read(self.ids_paths[0], self.dtypes[0], int(start[0]), int(off[-1, 0] - start[0]))
        tgt = _read(self.ids_paths[1], self.dtypes[1], int(start[1]), int(off[-1, 1] - start[1]))
        return src, tgt, off - start

    def read_ranges(self, ranges: list[tuple[int, int]], granule: int = 1) -> IdsBucket:
        """The pairs of some (first, count) ranges, in order, as one bucket (a sequence of
        (corpus index, source ids, target ids)). `granule` is for the text corpus's interface."""
        parts = [self.read_range(first, count) for first, count in ranges]
        src = np.concatenate([p[0] for p in parts])
        tgt = np.concatenate([p[1] for p in parts])
        starts = np.cumsum([[0, 0]] + [p[2][-1] for p in parts], axis=0)  # each part's base
        off = np.concatenate(
            [p[2][:-1] + base for p, base in zip(parts, starts, strict=False)] + [starts[-1:]]
        )
        indices = np.concatenate([np.arange(f, f + n, dtype=np.int64) for f, n in ranges])
        empty = np.flatnonzero(np.diff(off[:, 0]) == 0)
        if empty.size:
            raise DataError(
                f"{self.ids_paths[0]}: pair {int(indices[empty[0]]) + 1} has an empty source; "
                "run `seq2seq prepare` to clean the data"
            )
        return IdsBucket(indices, src, tgt, off)

    def read_bucket(self, bucket: int, bucket_size: int) -> IdsBucket:
        """Pairs ``bucket * bucket_size`` onwards, at most `bucket_size` of them."""
        first = bucket * bucket_size
        return self.read_ranges([(first, max(0, min(bucket_size, len(self) - first)))])


class IdsBucket:
    """The pairs of one bucket held as three arrays, not as a Python object per pair or token:
    the one form in which both corpora (`IdsCorpus`, and `batching.ParallelCorpus`, which encodes
    text) hand a bucket to the batch iterator.

    ``bucket[i]`` is the pair ``(corpus index, source ids, target ids)``, the ids being views of
    the bucket's arrays; `lengths()` gives both length lists without making any pair.
    """

    def __init__(self, indices: np.ndarray, src: np.ndarray, tgt: np.ndarray, offsets: np.ndarray):
        self.indices = indices  # the corpus index of each pair
        self.src, self.tgt = src, tgt
        self._src_off = offsets[:, 0]
        self._tgt_off = offsets[:, 1]
        # A copy model's bucket (batching.CopyCorpus, data/copymap.py): the extended target id
        # of every source token, aligned with `src`, and each pair's extra slot strings.
        self.src_map: np.ndarray | None = None
        self.extra: list[list[str]] | None = None
        self._positions: dict[int, int] | None = None

    def copy_of(self, index: int) -> tuple[np.ndarray, list[str]]:
        """The copy map of the pair with corpus index `index`: (src_map ids, extra strings)."""
        assert self.src_map is not None and self.extra is not None, "not a copy model's bucket"
        if self._positions is None:
            self._positions = {int(k): i for i, k in enumerate(self.indices.tolist())}
        i = self._positions[index]
        return self.src_map[self._src_off[i] : self._src_off[i + 1]], self.extra[i]

    @classmethod
    def from_lists(
        cls, indices: Sequence[int], src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]
    ) -> IdsBucket:
        """A bucket of pairs encoded in memory (id lists), held as the ids files' buckets are."""
        offsets = np.zeros((len(src) + 1, 2), np.int64)
        offsets[1:, 0] = np.cumsum([len(ids) for ids in src])
        offsets[1:, 1] = np.cumsum([len(ids) for ids in tgt])
        src_ids, tgt_ids = (
            np.fromiter(itertools.chain.from_iterable(lists), np.int64, count=int(offsets[-1, k]))
            for k, lists in enumerate((src, tgt))
        )
        return cls(np.asarray(indices, np.int64), src_ids, tgt_ids, offsets)

    def __len__(self) -> int:
        return len(self._src_off) - 1

    def __getitem__(self, i: int) -> tuple[int, np.ndarray, np.ndarray]:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        s, t = self._src_off, self._tgt_off
        return int(self.indices[i]), self.src[s[i] : s[i + 1]], self.tgt[t[i] : t[i + 1]]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def lengths(self) -> tuple[list[int], list[int]]:
        return np.diff(self._src_off).tolist(), np.diff(self._tgt_off).tolist()
