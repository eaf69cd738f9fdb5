"""Batches of audio features: the text path's length-bucketed batches with frames for tokens.

A speech corpus (data/feature_shards.py's `SpeechCorpus`, the log-mel frames `prepare` wrote)
hands the batch iterator buckets whose sources are float frames (T_i, F) instead of token ids, so
bucketing, shuffling, token budgets (counted in frames), resuming and DDP sharding are
`BatchIterator`'s own. Only building a batch differs: the frames are normalised by the training
data's per-band mean and standard deviation (the `AudioSource` stored beside the vocabularies and
in every checkpoint), padded with zeros at the end into ``Batch.src`` (B, T, F) float32, and on
training batches masked by SpecAugment (Park et al. 2019) after normalisation, so a mask holds the
mean. SpecAugment draws from a generator seeded by (seed, epoch, batch position, rank): an epoch's
masks are the same however often it is resumed.

Past ``Batch.src`` nothing is special: the trainer, the loss, dev perplexity and greedy dev
search hand it to `Seq2Seq.encode`, whose acoustic encoder (model/acoustic.py) reads frames.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch

from seq2seq.audio.features import AudioSource, spec_augment
from seq2seq.data.batching import Batch, BatchIterator, Corpus, EncodedPair, make_target_batch
from seq2seq.data.feature_shards import SpeechCorpus
from seq2seq.errors import DataError

if TYPE_CHECKING:
    from seq2seq.config import DataConfig
    from seq2seq.data.prepare import PreparedData

# features (B, T, F), lengths (B,), generator -> masked features (B, T, F)
Augment = Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]
Normalise = Callable[[torch.Tensor], torch.Tensor]


def is_audio(prepared: PreparedData) -> bool:
    """Whether a prepared directory's sources are audio (its manifest's source kind)."""
    source = prepared.manifest.get("source")
    return isinstance(source, dict) and source.get("kind") == "audio"


def make_feature_batch(
    frames: Sequence[Any], normalise: Normalise | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames (T_i, F) (arrays or tensors) of B recordings -> src (B, T, F) float32 normalised and zero-padded at the
    end, lengths (B,) int64. Row order is kept."""
    if not frames:
        raise DataError("a batch of recordings needs at least one recording")
    lengths = torch.tensor([len(f) for f in frames], dtype=torch.long)
    bands = {int(f.shape[1]) for f in frames}
    if len(bands) > 1:
        raise DataError(f"recordings of one batch differ in their feature count ({sorted(bands)})")
    src = torch.zeros(len(frames), int(lengths.max()), bands.pop())
    for row, f in enumerate(frames):
        src[row, : len(f)] = torch.as_tensor(f, dtype=torch.float32)
    if normalise is not None:
        src = normalise(src)
        real = torch.arange(src.size(1)) < lengths.unsqueeze(1)  # (B, T)
        src = src.masked_fill(~real.unsqueeze(-1), 0.0)
    return src, lengths


def batch_seed(seed: int, epoch: int, position: int, rank: int) -> int:
    """SpecAugment's generator seed for one batch: a hash of where it stands in the run."""
    digest = hashlib.blake2b(f"{seed}:{epoch}:{position}:{rank}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") >> 1


class AudioBatchIterator(BatchIterator):
    """`BatchIterator` over a corpus of frames: normalised, padded, SpecAugment when `augment`
    is given (training). Sources are never reversed (time order)."""

    def __init__(
        self,
        corpus: Corpus,
        *,
        normalise: Normalise | None = None,
        augment: Augment | None = None,
        **options: Any,
    ) -> None:
        super().__init__(corpus, **{**options, "reverse_source": False})
        self.normalise, self.augment = normalise, augment
        self._epoch, self._rank = 0, 0

    def iter_epoch(
        self, epoch: int = 0, skip: int = 0, rank: int = 0, world_size: int = 1
    ) -> Iterator[Batch]:
        self._epoch, self._rank = epoch, rank  # SpecAugment's seeds (see `build`)
        yield from super().iter_epoch(epoch, skip, rank, world_size)

    def build(self, pairs: Sequence[EncodedPair], position: int = 0) -> Batch:
        """A `Batch` of these (index, frames (T, F), target ids) pairs, in the given order."""
        src, src_lengths = make_feature_batch([p[1] for p in pairs], self.normalise)
        if self.augment is not None:
            generator = torch.Generator().manual_seed(
                batch_seed(self.seed, self._epoch, position, self._rank)
            )
            src = self.augment(src, src_lengths, generator)
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


def make_audio_batches(
    prepared: PreparedData, split: str, data_cfg: DataConfig, *, shuffle: bool, seed: int = 1
) -> AudioBatchIterator:
    """The batch iterator of one split of a speech data directory (`batching.make_batches`'s
    counterpart): SpecAugment on when `shuffle` (training) and ``data.spec_augment``."""
    info = prepared.manifest["splits"].get(split)
    if info is None or "feats" not in info:
        raise DataError(
            f"data directory {prepared.dir} has no features for a '{split}' split; prepare it "
            "with `seq2seq prepare --manifest ...`"
        )
    source = prepared.src_vocab
    if not isinstance(source, AudioSource):
        raise DataError(f"data directory {prepared.dir} has features but no audio source")
    corpus = SpeechCorpus(prepared.dir, split, info["feats"])
    augment: Augment | None = None
    if shuffle and data_cfg.spec_augment:

        def augment(feats: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator):
            return spec_augment(feats, lengths, generator=generator)

    return AudioBatchIterator(
        corpus,
        normalise=source.normalise,
        augment=augment,
        batch_size=data_cfg.batch_size,
        batch_tokens=data_cfg.batch_tokens,
        bucket_size=data_cfg.bucket_size,
        shuffle=shuffle,
        seed=seed,
    )
