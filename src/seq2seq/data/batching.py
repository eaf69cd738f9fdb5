"""Batches for training and decoding: length-bucketed, token-budgeted, streamed and sharded.

The paper made sure that "all sentences in a minibatch are roughly of the same length, yielding a
2x speedup" (Sutskever et al. 2014, §3.4). Here a corpus is read in buckets of up to `bucket_size`
pairs (the only pairs held in memory at once); each bucket is sorted by length and cut into batches
of `batch_size` sentences or of at most `batch_tokens` padded tokens. With shuffling, a bucket is
not a stretch of the file but a sample of the whole corpus: the corpus is cut into blocks of
``bucket_size // 100`` pairs, dealt to the buckets in an order drawn from the seed (`BucketLayout`),
so a corpus sorted by length or grouped by topic (Tatoeba's dump, news in document order) gives
every part of an epoch the same mix of pairs, while the reads stay runs of a block. The order of
the buckets and of the batches inside each bucket is drawn from ``(seed, epoch)``, and pairs of
equal lengths are shuffled too, so batch contents vary between epochs while the buckets and the
cuts (and so the number of batches) do not. That makes resuming cheap: `iter_epoch(epoch,
skip=k)` passes over whole buckets without reading them when it knows their batch counts, and
never builds a skipped batch.

For data-parallel training every rank builds the same global batch and keeps the rows
``[rank::world_size]``; the global sentence and token counts travel on the `Batch` so the loss can
be normalised by the global count.

Source reversal (paper §3.3) is applied here, when a batch is built, never in the files.

A split that `prepare` also wrote as token ids (data/shards.py) is read from them: `make_batches`
then hands the iterator an `IdsCorpus`, whose buckets are read with two positioned reads and never
encoded again, and whose batch counts come from the stored lengths alone, so that resuming
mid-epoch passes over the buckets before the saved position without reading their tokens (with a
token budget too). Both corpora give the same batches, in the same order, for the same data.

A copy model (``model.copy``) reads its batches through `CopyCorpus`, which encodes the text like
`ParallelCorpus` and also builds each pair's extended vocabulary (data/copymap.py): its targets
are extended ids, and its batches carry `src_map` and `extra`. Every other model's batches are
built exactly as before.
"""

from __future__ import annotations

import dataclasses
import math
import random
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from seq2seq.data.copymap import copy_ids, token_index
from seq2seq.data.io import count_lines, open_binary
from seq2seq.data.shards import IdsBucket, IdsCorpus
from seq2seq.data.vocab import BOS_ID, EOS_ID, PAD_ID, Vocab
from seq2seq.errors import DataError

if TYPE_CHECKING:
    from seq2seq.config import DataConfig
    from seq2seq.data.prepare import PreparedData

# One encoded pair: (corpus index, source ids, target ids), no BOS/EOS; the ids are lists, or
# integer arrays when read from a split's ids files.
Ids = Sequence[int] | np.ndarray
EncodedPair = tuple[int, Ids, Ids]


@dataclass
class Batch:
    """One batch of the contract in docs/ARCHITECTURE.md."""

    # (B, S) int64, padded with 0, reversed when reverse_source is on; an audio source's
    # (B, T, F) float32 normalised features, zero-padded (data/audio_batching.py)
    src: torch.Tensor
    src_lengths: torch.Tensor  # (B,) int64
    tgt_in: torch.Tensor  # (B, T) int64: <bos> y, padded with 0
    tgt_out: torch.Tensor  # (B, T) int64: y <eos>, padded with 0
    n_tgt_tokens: int  # non-pad positions of tgt_out in these rows
    indices: torch.Tensor  # (B,) int64 corpus line numbers (0-based); stays on the CPU
    n_src_tokens: int = 0
    global_sentences: int = 0  # rows of the global batch (all ranks together)
    global_tgt_tokens: int = 0  # target tokens of the global batch
    position: int = 0  # number of this batch within its epoch, skipped batches included
    src_map: torch.Tensor | None = None  # (B, S) copy only: extended target id of each src token
    extra: list[list[str]] | None = None  # copy only: each row's strings of ids V, V + 1, ...

    def __len__(self) -> int:
        return int(self.src.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """A copy with the model's tensors on `device` (`indices` stays on the CPU)."""

        def move(t: torch.Tensor) -> torch.Tensor:
            return t.to(device, non_blocking=non_blocking)

        return dataclasses.replace(
            self,
            src=move(self.src),
            src_lengths=move(self.src_lengths),
            tgt_in=move(self.tgt_in),
            tgt_out=move(self.tgt_out),
            src_map=None if self.src_map is None else move(self.src_map),
        )


def make_source_batch(
    id_lists: Sequence[Ids], pad_id: int = PAD_ID, reverse: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad source id lists into ``src (B, S)`` and ``lengths (B,)``; reverse each row's tokens
    (not its padding) when `reverse` is on (paper §3.3). Row order is kept."""
    lengths = [len(ids) for ids in id_lists]
    src = np.full((len(id_lists), max(lengths, default=0)), pad_id, dtype=np.int64)
    for row, ids in enumerate(id_lists):
        src[row, : len(ids)] = ids[::-1] if reverse else ids
    return torch.from_numpy(src), torch.tensor(lengths, dtype=torch.long)


def make_target_batch(id_lists: Sequence[Ids]) -> tuple[torch.Tensor, torch.Tensor]:
    """``tgt_in (B, T)`` = <bos> y and ``tgt_out (B, T)`` = y <eos>, with T = max len(y) + 1."""
    width = max((len(ids) for ids in id_lists), default=0) + 1
    tgt_in = np.full((len(id_lists), width), PAD_ID, dtype=np.int64)
    tgt_out = np.full((len(id_lists), width), PAD_ID, dtype=np.int64)
    tgt_in[:, 0] = BOS_ID
    for row, ids in enumerate(id_lists):
        n = len(ids)
        tgt_in[row, 1 : n + 1] = ids
        tgt_out[row, :n] = ids
        tgt_out[row, n] = EOS_ID
    return torch.from_numpy(tgt_in), torch.from_numpy(tgt_out)


def build_batch(pairs: Sequence[EncodedPair], reverse_source: bool) -> Batch:
    """A `Batch` of these pairs, longest source first; global counts default to this batch's."""
    pairs = sorted(pairs, key=lambda p: -len(p[1]))
    src, src_lengths = make_source_batch([p[1] for p in pairs], PAD_ID, reverse_source)
    tgt_in, tgt_out = make_target_batch([p[2] for p in pairs])
    n_tgt = sum(len(p[2]) + 1 for p in pairs)
    return Batch(
        src=src,
        src_lengths=src_lengths,
        tgt_in=tgt_in,
        tgt_out=tgt_out,
        n_tgt_tokens=n_tgt,
        indices=torch.tensor([p[0] for p in pairs], dtype=torch.long),
        n_src_tokens=int(src_lengths.sum()),
        global_sentences=len(pairs),
        global_tgt_tokens=n_tgt,
    )


class ParallelCorpus:
    """Encoded pairs of one split, read bucket by bucket from two aligned text files (or lists).

    Files are the cleaned, uncompressed ones written by `seq2seq prepare`: the first pass records
    the byte offset of every bucket, so any bucket can be read later without the ones before it.
    """

    def __init__(
        self, src_path: str | Path, tgt_path: str | Path, src_vocab: Vocab, tgt_vocab: Vocab
    ):
        self.paths: tuple[Path, Path] | None = (Path(src_path), Path(tgt_path))
        self._lines: tuple[list[str], list[str]] | None = None
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self._size: int | None = None
        self._offsets: dict[int, tuple[array, array]] = {}  # granule -> (src, tgt) offsets

    @classmethod
    def from_lists(
        cls, src_lines: Sequence[str], tgt_lines: Sequence[str], src_vocab: Vocab, tgt_vocab: Vocab
    ) -> ParallelCorpus:
        """An in-memory corpus (tests, the demo, small data)."""
        if len(src_lines) != len(tgt_lines):
            raise DataError(
                f"the source list has {len(src_lines)} sentences but the target list has {len(tgt_lines)}"
            )
        corpus = cls.__new__(cls)
        corpus.paths = None
        corpus._lines = (list(src_lines), list(tgt_lines))
        corpus.src_vocab, corpus.tgt_vocab = src_vocab, tgt_vocab
        corpus._size, corpus._offsets = len(src_lines), {}
        return corpus

    def __len__(self) -> int:
        if self._size is None:
            src, tgt = self._files()
            n_src, n_tgt = count_lines(src), count_lines(tgt)
            if n_src != n_tgt:
                raise DataError(
                    f"source {src} has {n_src} lines but target {tgt} has {n_tgt}; they must be aligned"
                )
            self._size = n_src
        return self._size

    def range_lengths(self, ranges: list[tuple[int, int]]) -> None:
        """The pairs' lengths are not known before their text is encoded (see `IdsCorpus`)."""
        return None

    def read_ranges(self, ranges: list[tuple[int, int]], granule: int) -> IdsBucket:
        """Encode the pairs of some (first, count) ranges of lines, in order; every `first` is a
        multiple of `granule` (the file offsets are recorded every `granule` lines, once)."""
        indices, src_text, tgt_text = self._texts(ranges, granule)
        src_ids = self.src_vocab.encode_batch(src_text)
        tgt_ids = self.tgt_vocab.encode_batch(tgt_text)
        for i, ids in zip(indices, src_ids, strict=True):
            if not ids:
                where = f"{self.paths[0]}:{i + 1}" if self.paths else f"source sentence {i}"
                raise DataError(
                    f"{where}: empty source sentence; run `seq2seq prepare` to clean the data"
                )
        return IdsBucket.from_lists(indices, src_ids, tgt_ids)

    def _texts(
        self, ranges: list[tuple[int, int]], granule: int
    ) -> tuple[list[int], list[str], list[str]]:
        """The line numbers, source lines and target lines of some (first, count) ranges."""
        indices = [first + k for first, count in ranges for k in range(count)]
        if self._lines is not None:
            src, tgt = self._lines
            return indices, [src[i] for i in indices], [tgt[i] for i in indices]
        return indices, *self._read_files(ranges, granule)

    def read_bucket(self, bucket: int, bucket_size: int) -> IdsBucket:
        """Encode lines ``bucket * bucket_size`` onwards, at most `bucket_size` of them."""
        first = bucket * bucket_size
        return self.read_ranges([(first, max(0, min(bucket_size, len(self) - first)))], bucket_size)

    def _read_files(
        self, ranges: list[tuple[int, int]], granule: int
    ) -> tuple[list[str], list[str]]:
        offsets = self._block_offsets(granule)
        sides = []
        for side, path in enumerate(self._files()):
            lines = []
            with open_binary(path) as handle:
                for first, count in ranges:
                    handle.seek(offsets[side][first // granule])
                    for k in range(count):
                        raw = handle.readline()
                        try:
                            lines.append(raw.decode("utf-8").rstrip("\r\n"))
                        except UnicodeDecodeError:
                            raise DataError(
                                f"{path}:{first + k + 1}: invalid UTF-8 in a prepared file"
                            ) from None
            sides.append(lines)
        return sides[0], sides[1]

    def _block_offsets(self, granule: int) -> tuple[array, array]:
        if granule not in self._offsets:
            src_path, tgt_path = self._files()
            src_off = _line_offsets(src_path, granule)
            tgt_off = _line_offsets(tgt_path, granule)
            if len(src_off) != len(tgt_off):
                raise DataError(f"source {src_path} and target {tgt_path} differ in line count")
            self._offsets[granule] = (src_off, tgt_off)
        return self._offsets[granule]

    def _files(self) -> tuple[Path, Path]:
        """The two text files; only a corpus `from_lists` has none, and it never reads files."""
        assert self.paths is not None
        return self.paths


def _line_offsets(path: Path, every: int) -> array:
    """Byte offsets of lines 0, every, 2*every, ... (of the decompressed text for a .gz file,
    which works but makes every seek decompress from the start), 8 bytes each."""
    offsets, offset = array("q"), 0
    with open_binary(path) as handle:
        for i, raw in enumerate(handle):
            if i % every == 0:
                offsets.append(offset)
            offset += len(raw)
    return offsets or array("q", [0])


BLOCKS_PER_BUCKET = 100


class CopyCorpus(ParallelCorpus):
    """A `ParallelCorpus` whose buckets also hold each pair's copy map (data/copymap.py), with
    the targets in extended ids: what a copy model trains on."""

    _index: dict[str, int] | None = None  # the target vocabulary's token -> id, made once

    def read_ranges(self, ranges: list[tuple[int, int]], granule: int) -> IdsBucket:
        indices, src_text, tgt_text = self._texts(ranges, granule)
        if self._index is None:
            self._index = token_index(self.tgt_vocab)
        size, src_ids, maps, targets, extra = len(self.tgt_vocab), [], [], [], []
        for line, src, tgt in zip(indices, src_text, tgt_text, strict=True):
            tokens, ids = self.src_vocab.tokenize(src), self.src_vocab.encode(src)
            if not ids or len(tokens) != len(ids):
                where = f"{self.paths[0]}:{line + 1}" if self.paths else f"source sentence {line}"
                raise DataError(
                    f"{where}: an empty source, or {len(tokens)} tokens that encode to "
                    f"{len(ids)} ids, which model.copy cannot align; run `seq2seq prepare`"
                )
            tgt_tokens = self.tgt_vocab.tokenize(tgt)
            src_map, tgt_ext, strings = copy_ids(
                tokens, self._index, size, tgt_tokens, self.tgt_vocab.encode(tgt)
            )
            src_ids.append(ids)
            maps.append(src_map)
            targets.append(tgt_ext)
            extra.append(strings)
        bucket = IdsBucket.from_lists(indices, src_ids, targets)
        bucket.src_map, bucket.extra = IdsBucket.from_lists(indices, maps, targets).src, extra
        return bucket


def add_copy_map(batch: Batch, bucket: IdsBucket, reverse_source: bool) -> Batch:
    """Give a batch of a copy model's bucket its rows' `src_map` (reversed like `src`), `extra`."""
    maps = [bucket.copy_of(int(i)) for i in batch.indices]
    batch.src_map, _ = make_source_batch([m[0] for m in maps], PAD_ID, reverse_source)
    batch.extra = [m[1] for m in maps]
    return batch


class BucketLayout:
    """Which pairs each bucket holds, as (first, count) ranges of the file, in file order.

    Without shuffling, or for a corpus of one bucket: consecutive stretches of `bucket_size` pairs.
    With shuffling: blocks of ``bucket_size // 100`` pairs dealt to the buckets in an order drawn
    from `seed` alone, the same every epoch (so a bucket's batch count never changes), each bucket
    taking at most `bucket_size` pairs; adjacent blocks are read as one range. Every range starts
    on a multiple of `block`. It holds 8 bytes per block: a fraction of the corpus's size.
    """

    def __init__(self, size: int, bucket_size: int, shuffle: bool, seed: int):
        self.size = size
        self._order: np.ndarray | None = None
        if not shuffle or size <= bucket_size:
            self.block, self.per_bucket = bucket_size, 1
            blocks = max(1, math.ceil(size / bucket_size))
        else:
            self.block = max(1, bucket_size // BLOCKS_PER_BUCKET)
            self.per_bucket = bucket_size // self.block
            blocks = math.ceil(size / self.block)
            self._order = np.arange(blocks, dtype=np.int64)
            random.Random(f"layout:{seed}").shuffle(self._order)  # type: ignore[arg-type]  # numpy's stubs: no MutableSequence
        self.buckets = math.ceil(blocks / self.per_bucket)

    def __len__(self) -> int:
        return self.buckets

    def ranges(self, bucket: int) -> list[tuple[int, int]]:
        """The (first, count) ranges of a bucket's pairs, in file order."""
        if self._order is None:
            blocks = [bucket]
        else:
            chosen = self._order[bucket * self.per_bucket : (bucket + 1) * self.per_bucket]
            blocks = sorted(chosen.tolist())
        ranges: list[tuple[int, int]] = []
        for b in blocks:
            first = b * self.block
            count = max(0, min(self.block, self.size - first))
            if ranges and sum(ranges[-1]) == first:
                ranges[-1] = (ranges[-1][0], ranges[-1][1] + count)
            else:
                ranges.append((first, count))
        return ranges

    def pairs(self, bucket: int) -> int:
        return sum(count for _, count in self.ranges(bucket))


class Corpus(Protocol):
    """What the batch iterator reads: a `ParallelCorpus` (text, encoded bucket by bucket) or an
    `IdsCorpus` (the ids files `prepare` wrote); both hand over a bucket as an `IdsBucket`."""

    def __len__(self) -> int: ...

    def read_ranges(self, ranges: list[tuple[int, int]], granule: int) -> IdsBucket: ...

    def range_lengths(self, ranges: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray] | None:
        """Both length arrays of some ranges of pairs, when known without reading the tokens."""
        ...


class BatchIterator:
    """Length-bucketed batches over a `Corpus`, deterministic for ``(seed, epoch)``.

    `batch_tokens`, when set, replaces `batch_size`: a batch then holds as many rows as fit in
    ``rows * max(longest source, longest target + 1) <= batch_tokens`` (one over-long pair still
    makes a batch of its own).
    """

    def __init__(
        self,
        corpus: Corpus,
        *,
        batch_size: int = 128,
        batch_tokens: int | None = None,
        bucket_size: int = 100_000,
        shuffle: bool = True,
        seed: int = 1,
        reverse_source: bool = True,
    ) -> None:
        if batch_size < 1 or bucket_size < 1 or (batch_tokens is not None and batch_tokens < 1):
            raise DataError("batch_size, batch_tokens and bucket_size must be positive")
        self.corpus = corpus
        self.batch_size, self.batch_tokens, self.bucket_size = batch_size, batch_tokens, bucket_size
        self.shuffle, self.seed, self.reverse_source = shuffle, seed, reverse_source
        self._counts: dict[tuple[int, int], int] = {}  # (bucket, world_size) -> batches
        self._cached: IdsBucket | None = None  # the whole corpus, if one bucket
        self._layout: BucketLayout | None = None

    @property
    def layout(self) -> BucketLayout:
        """Which pairs each bucket holds (made on first use: a text corpus counts its lines)."""
        if self._layout is None:
            self._layout = BucketLayout(len(self.corpus), self.bucket_size, self.shuffle, self.seed)
        return self._layout

    def __iter__(self) -> Iterator[Batch]:
        return self.iter_epoch(0)

    def __len__(self) -> int:
        return self.num_batches()

    def num_batches(self, world_size: int = 1) -> int:
        """Batches per epoch (the same every epoch); token budgets cost one pass the first time."""
        total = 0
        for bucket in range(len(self.layout)):
            count = self._known_count(bucket, world_size)
            if count is None:
                count = len(self._plan(self._load(bucket), bucket, 0, world_size))
            total += count
        return total

    def iter_epoch(
        self, epoch: int = 0, skip: int = 0, rank: int = 0, world_size: int = 1
    ) -> Iterator[Batch]:
        """Yield the batches of `epoch` after the first `skip`, each cut to this rank's rows.

        With ``world_size > 1`` a global batch with fewer rows than ranks is left out on every rank.
        """
        if not 0 <= rank < world_size:
            raise DataError(f"rank {rank} is outside world size {world_size}")
        position = 0
        for bucket in self._bucket_order(epoch):
            count = self._known_count(bucket, world_size)
            if count is not None and skip >= position + count:
                position += count  # resume: pass the whole bucket without reading it
                continue
            pairs = self._load(bucket)
            plan = self._plan(pairs, bucket, epoch, world_size)
            for rows in plan:
                if position >= skip:
                    batch = self._shard([pairs[i] for i in rows], rank, world_size, position)
                    if pairs.src_map is not None:
                        batch = add_copy_map(batch, pairs, self.reverse_source)
                    yield batch
                position += 1
            del pairs, plan  # before the next bucket is read: one bucket in memory, not two

    def _bucket_order(self, epoch: int) -> list[int]:
        order = list(range(len(self.layout)))
        if self.shuffle:
            random.Random(f"buckets:{self.seed}:{epoch}").shuffle(order)
        return order

    def _known_count(self, bucket: int, world_size: int) -> int | None:
        if (bucket, world_size) in self._counts:
            return self._counts[(bucket, world_size)]
        if self.batch_tokens is None:  # by sentence count: known without reading the bucket
            full, rest = divmod(self.layout.pairs(bucket), self.batch_size)
            count = full * (self.batch_size >= world_size) + (rest >= max(world_size, 1))
            self._counts[(bucket, world_size)] = count
            return count
        lengths = self.corpus.range_lengths(self.layout.ranges(bucket))
        if lengths is not None:  # by token budget: from the stored lengths alone
            src_lens, tgt_lens = lengths
            order = np.lexsort((tgt_lens, src_lens)).tolist()
            cuts = self._cut(order, src_lens.tolist(), tgt_lens.tolist())
            count = sum(len(rows) >= world_size for rows in cuts)
            self._counts[(bucket, world_size)] = count
            return count
        return None

    def _load(self, bucket: int) -> IdsBucket:
        if self._cached is not None:
            return self._cached
        pairs = self.corpus.read_ranges(self.layout.ranges(bucket), self.layout.block)
        if len(self.layout) == 1:
            self._cached = pairs  # the corpus fits in one bucket: encode it once for all epochs
        return pairs

    def _plan(self, pairs: IdsBucket, bucket: int, epoch: int, world_size: int) -> list[list[int]]:
        """Row positions of each batch of a bucket, in the order they are yielded."""
        src_lens, tgt_lens = pairs.lengths()
        if self.shuffle:
            rng = random.Random(f"batches:{self.seed}:{epoch}:{bucket}")
            ties = [rng.random() for _ in pairs]
        else:
            ties = list(range(len(pairs)))
        order = sorted(range(len(pairs)), key=lambda i: (src_lens[i], tgt_lens[i], ties[i]))
        cuts = self._cut(order, src_lens, tgt_lens)
        batches = [rows for rows in cuts if len(rows) >= world_size]
        self._counts[(bucket, world_size)] = len(batches)
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def _cut(self, order: list[int], src_lens: list[int], tgt_lens: list[int]) -> list[list[int]]:
        """Cut rows taken in `order` into batches (by count, or by token budget)."""
        if self.batch_tokens is None:
            return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        batches: list[list[int]] = []
        rows: list[int] = []
        longest = 0
        for i in order:
            own = max(src_lens[i], tgt_lens[i] + 1)
            need = max(longest, own)
            if rows and need * (len(rows) + 1) > self.batch_tokens:
                batches.append(rows)
                rows, need = [], own
            rows.append(i)
            longest = need
        if rows:
            batches.append(rows)
        return batches

    def build(self, pairs: Sequence[EncodedPair], position: int = 0) -> Batch:
        """One rank's batch of these pairs, in this order (data/audio_batching.py builds frames)."""
        return build_batch(pairs, self.reverse_source)

    def _shard(self, pairs: list[EncodedPair], rank: int, world_size: int, position: int) -> Batch:
        pairs.sort(key=lambda p: (-len(p[1]), p[0]))  # the same row order on every rank
        mine = pairs[rank::world_size]
        batch = self.build(mine, position)
        batch.global_sentences = len(pairs)
        batch.global_tgt_tokens = sum(len(p[2]) + 1 for p in pairs)
        batch.position = position
        return batch


def make_batches(
    prepared: PreparedData,
    split: str,
    data_cfg: DataConfig,
    *,
    shuffle: bool,
    seed: int = 1,
    copy: bool = False,
) -> BatchIterator:
    """The batch iterator of one split of a prepared data directory, as `config.data` asks.

    Training: ``make_batches(prepared, "train", cfg.data, shuffle=True, seed=cfg.train.seed)``;
    validation: ``make_batches(prepared, "valid", cfg.data, shuffle=False)`` (length-sorted batches;
    `Batch.indices` give each row's line in the split, to restore the file order). With `copy`
    (a model with ``model.copy``) the batches carry copy maps, built from the split's text.
    """
    src_path, tgt_path = prepared.split_paths(split)
    vocabs = prepared.src_vocab, prepared.tgt_vocab
    ids = prepared.manifest["splits"][split].get("ids")
    corpus: Corpus
    if copy:  # the copy map needs the strings of source words the source vocabulary lacks
        corpus = CopyCorpus(src_path, tgt_path, *vocabs)
    elif ids is not None:
        corpus = IdsCorpus(prepared.dir, ids, *vocabs, text_paths=(src_path, tgt_path))
    else:  # a directory prepared without ids files: encode the text, bucket by bucket
        corpus = ParallelCorpus(src_path, tgt_path, *vocabs)
    return BatchIterator(
        corpus,
        batch_size=data_cfg.batch_size,
        batch_tokens=data_cfg.batch_tokens,
        bucket_size=data_cfg.bucket_size,
        shuffle=shuffle,
        seed=seed,
        reverse_source=data_cfg.reverse_source,
    )
