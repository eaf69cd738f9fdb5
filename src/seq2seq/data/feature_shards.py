"""The binary form of a prepared speech split: log-mel frames and target ids, read a bucket at a time.

`seq2seq prepare --manifest ...` (data/prepare_audio.py) computes every utterance's features
once, so training reads no audio. Four files per split, all little-endian:

    <split>.feats           float16, (total frames, n_mels): every utterance's frames back to back
    <split>.feats.offsets   int64, (utterances + 1,): utterance i is frames off[i]:off[i + 1]
    <split>.tgt.ids         the target ids, back to back, no BOS/EOS (uint16 or uint32, as
                            data/shards.py chooses for the vocabulary's size)
    <split>.tgt.offsets     int64, (utterances + 1,): the targets' offsets likewise

and an entry ``"feats"`` in the split's manifest record (`FeatureWriter.info`). Frames take 2 bytes
a band (160 bytes per 10 ms frame at 80 bands: 58 MB per hour of audio). As data/shards.py does,
the reader uses positioned reads (``pread``), never a memory map, so a process holds one bucket,
not the share of the file it has touched.

`SpeechCorpus` is a `batching.Corpus` (``len``, ``range_lengths``, ``read_ranges``,
``read_bucket``): its buckets are `IdsBucket`s whose ``src`` is a float32 array of frames
(total, n_mels) instead of token ids, so ``bucket[i]`` is ``(index, frames (T_i, n_mels), target
ids)``. The features are stored unnormalised; the model's `AudioSource` normalises them.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq.data.io import AtomicTextFile
from seq2seq.data.shards import _DTYPES, IdsBucket, _read, ids_dtype
from seq2seq.errors import DataError

FORMAT = "seq2seq-feats"
VERSION = 1
_FEAT_DTYPE = np.dtype("<f2")
_OFFSET_DTYPE = np.dtype("<i8")


def file_names(split: str) -> tuple[str, str, str, str]:
    """(features, feature offsets, target ids, target offsets) file names of a split."""
    return f"{split}.feats", f"{split}.feats.offsets", f"{split}.tgt.ids", f"{split}.tgt.offsets"


class FeatureWriter:
    """Writes one split's four files through temporary names, renamed into place when the block
    ends (an exception removes them all):

        with FeatureWriter(out, "train", n_mels=80, tgt_vocab_size=40) as writer:
            writer.add(feats (T, 80), target_ids)     # once per utterance
        entry = writer.info()
    """

    def __init__(self, directory: str | Path, split: str, n_mels: int, tgt_vocab_size: int):
        self.directory, self.split, self.n_mels = Path(directory), split, n_mels
        self.names = file_names(split)
        self.tgt_dtype = ids_dtype(tgt_vocab_size)
        self._vocab_size = tgt_vocab_size
        self._files = ExitStack()
        self._handles: list[Any] = []
        self.utterances = self.frames = self.tgt_tokens = 0

    def __enter__(self) -> FeatureWriter:
        files = [AtomicTextFile(self.directory / name, binary=True) for name in self.names]
        with ExitStack() as opening:
            self._handles = [opening.enter_context(file) for file in files]
            self._files = opening.pop_all()
        for offsets in (self._handles[1], self._handles[3]):
            np.zeros(1, _OFFSET_DTYPE).tofile(offsets)
        return self

    def add(self, feats: np.ndarray, tgt: list[int] | np.ndarray) -> None:
        """Append one utterance: its frames (T, n_mels) (any float type; stored as float16) and
        its target ids."""
        if feats.ndim != 2 or feats.shape[1] != self.n_mels or len(feats) == 0:
            raise ValueError(f"frames of shape (T > 0, {self.n_mels}) expected, got {feats.shape}")
        ids = np.asarray(tgt, np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self._vocab_size):
            raise DataError(f"id outside the vocabulary in the {self.split} split")
        np.ascontiguousarray(feats, _FEAT_DTYPE).tofile(self._handles[0])
        ids.astype(_DTYPES[self.tgt_dtype]).tofile(self._handles[2])
        self.utterances += 1
        self.frames += len(feats)
        self.tgt_tokens += len(ids)
        np.array([self.frames], _OFFSET_DTYPE).tofile(self._handles[1])
        np.array([self.tgt_tokens], _OFFSET_DTYPE).tofile(self._handles[3])

    def __exit__(self, exc_type, exc, tb) -> None:
        self._files.__exit__(exc_type, exc, tb)

    def info(self) -> dict[str, Any]:
        """The split's manifest entry for these files."""
        feats, offsets, tgt, tgt_offsets = self.names
        return {
            "format": FORMAT,
            "version": VERSION,
            "feats": feats,
            "offsets": offsets,
            "dtype": "float16",
            "n_mels": self.n_mels,
            "utterances": self.utterances,
            "frames": self.frames,
            "tgt_ids": tgt,
            "tgt_offsets": tgt_offsets,
            "tgt_dtype": self.tgt_dtype,
            "tgt_tokens": self.tgt_tokens,
        }


def split_info(directory: str | Path, split: str) -> dict[str, Any]:
    """The ``feats`` entry of a split in a prepared speech directory's manifest.json."""
    path = Path(directory) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path} ({err}); run `seq2seq prepare` again") from None
    entry = manifest.get("splits", {}).get(split)
    if entry is None or "feats" not in entry:
        raise DataError(f"{path} lists no audio features for a '{split}' split")
    return entry["feats"]


class FeatureShard:
    """One split's frames and targets, from the files `FeatureWriter` wrote (see the module doc)."""

    def __init__(self, directory: str | Path, split: str = "train", info: dict | None = None):
        self.directory = Path(directory)
        info = info if info is not None else split_info(directory, split)
        if info.get("format") != FORMAT or info.get("version") != VERSION:
            raise DataError(
                f"{self.directory}: feature files of format {info.get('format')} version "
                f"{info.get('version')}; this toolkit reads {FORMAT} version {VERSION}"
            )
        self.n_mels = int(info["n_mels"])
        self._size = int(info["utterances"])
        self.tgt_dtype = _DTYPES[info["tgt_dtype"]]
        names = [info[key] for key in ("feats", "offsets", "tgt_ids", "tgt_offsets")]
        self.paths = tuple(self.directory / name for name in names)
        sizes = (
            int(info["frames"]) * self.n_mels * _FEAT_DTYPE.itemsize,
            (self._size + 1) * _OFFSET_DTYPE.itemsize,
            int(info["tgt_tokens"]) * self.tgt_dtype.itemsize,
            (self._size + 1) * _OFFSET_DTYPE.itemsize,
        )
        for path, size in zip(self.paths, sizes):
            if not path.is_file():
                raise DataError(
                    f"{path} is missing but the manifest lists it; run `seq2seq prepare` again"
                )
            if path.stat().st_size != size:
                raise DataError(
                    f"{path} has {path.stat().st_size:,} bytes, the manifest says {size:,}; "
                    "it is truncated or from another run: run `seq2seq prepare` again"
                )
        self._frame_off = _read(self.paths[1], _OFFSET_DTYPE, 0, self._size + 1)
        self._tgt_off = _read(self.paths[3], _OFFSET_DTYPE, 0, self._size + 1)

    def __len__(self) -> int:
        return self._size

    @property
    def lengths(self) -> np.ndarray:
        """Frames of each utterance (N,) int64."""
        return np.diff(self._frame_off)

    @property
    def tgt_lengths(self) -> np.ndarray:
        """Target tokens of each utterance (N,) int64."""
        return np.diff(self._tgt_off)

    def frames(self, i: int) -> np.ndarray:
        """Utterance i's frames (T, n_mels) float32."""
        return self.read_range(i, 1)[0]

    def target(self, i: int) -> np.ndarray:
        """Utterance i's target ids."""
        return self.read_range(i, 1)[1]

    def read_range(self, first: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(frames (F_total, n_mels) float32, target ids, offsets (count + 1, 2) relative to them)
        of utterances ``first .. first + count - 1``, by one positioned read per file."""
        if first < 0 or count < 0 or first + count > self._size:
            raise IndexError(f"utterances {first}..{first + count - 1} of {self._size}")
        frame_off = self._frame_off[first : first + count + 1]
        tgt_off = self._tgt_off[first : first + count + 1]
        flat = _read(
            self.paths[0], _FEAT_DTYPE, int(frame_off[0]) * self.n_mels,
            int(frame_off[-1] - frame_off[0]) * self.n_mels,
        )  # fmt: skip
        tgt = _read(self.paths[2], self.tgt_dtype, int(tgt_off[0]), int(tgt_off[-1] - tgt_off[0]))
        offsets = np.stack([frame_off - frame_off[0], tgt_off - tgt_off[0]], axis=1)
        return flat.reshape(-1, self.n_mels).astype(np.float32), tgt, offsets


class SpeechCorpus(FeatureShard):
    """A prepared speech split as a `batching.Corpus`: buckets of (index, frames, target ids)."""

    def range_lengths(self, ranges: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """Frame and target lengths of the utterances of some (first, count) ranges, in order."""
        frames = np.concatenate([self.lengths[f : f + n] for f, n in ranges] or [np.zeros(0)])
        tgt = np.concatenate([self.tgt_lengths[f : f + n] for f, n in ranges] or [np.zeros(0)])
        return frames.astype(np.int64), tgt.astype(np.int64)

    def read_ranges(self, ranges: list[tuple[int, int]], granule: int = 1) -> IdsBucket:
        """The utterances of some (first, count) ranges, in order, as one bucket whose ``src`` is
        float32 frames (total, n_mels). `granule` is for the text corpus's interface."""
        parts = [self.read_range(first, count) for first, count in ranges]
        if not parts:
            parts = [self.read_range(0, 0)]
        bases = np.cumsum([[0, 0]] + [p[2][-1] for p in parts], axis=0)
        offsets = np.concatenate([p[2][:-1] + base for p, base in zip(parts, bases)] + [bases[-1:]])
        indices = np.concatenate(
            [np.arange(f, f + n, dtype=np.int64) for f, n in ranges] or [np.zeros(0, np.int64)]
        )
        frames = np.concatenate([p[0] for p in parts])
        return IdsBucket(indices, frames, np.concatenate([p[1] for p in parts]), offsets)

    def read_bucket(self, bucket: int, bucket_size: int) -> IdsBucket:
        """Utterances ``bucket * bucket_size`` onwards, at most `bucket_size` of them."""
        first = bucket * bucket_size
        return self.read_ranges([(first, max(0, min(bucket_size, len(self) - first)))])
