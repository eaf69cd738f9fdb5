"""Batching: reversal, length buckets, token budgets, determinism, resume, DDP shards, bounded memory."""

from __future__ import annotations

import random
import tracemalloc

import pytest
import torch

from seq2seq.config import DataConfig
from seq2seq.data.batching import (
    BatchIterator,
    BucketLayout,
    ParallelCorpus,
    build_batch,
    make_batches,
    make_source_batch,
)
from seq2seq.data.vocab import WordVocab
from seq2seq.errors import DataError


def indices_of(batches) -> list[list[int]]:
    return [b.indices.tolist() for b in batches]


def same_batches(a, b) -> bool:
    return len(a) == len(b) and all(
        torch.equal(x.src, y.src)
        and torch.equal(x.tgt_out, y.tgt_out)
        and torch.equal(x.indices, y.indices)
        for x, y in zip(a, b)
    )


def test_make_source_batch_golden():
    src, lengths = make_source_batch([[4, 5, 6], [7], [8, 9]], pad_id=0, reverse=True)
    assert src.tolist() == [[6, 5, 4], [7, 0, 0], [9, 8, 0]]
    assert lengths.tolist() == [3, 1, 2]
    src, _ = make_source_batch([[4, 5, 6], [7]], pad_id=0, reverse=False)
    assert src.tolist() == [[4, 5, 6], [7, 0, 0]]


def test_build_batch_golden():
    batch = build_batch([(7, [4], [5, 6]), (9, [4, 5, 6], [7])], reverse_source=True)
    assert batch.indices.tolist() == [9, 7]  # longest source first
    assert batch.src.tolist() == [[6, 5, 4], [4, 0, 0]]
    assert batch.src_lengths.tolist() == [3, 1]
    assert batch.tgt_in.tolist() == [[2, 7, 0], [2, 5, 6]]
    assert batch.tgt_out.tolist() == [[7, 3, 0], [5, 6, 3]]
    assert (batch.n_tgt_tokens, batch.n_src_tokens, batch.global_tgt_tokens) == (5, 4, 5)
    moved = batch.to("cpu")
    assert torch.equal(moved.src, batch.src) and moved.indices is batch.indices


def small_corpus():
    src = ["a b c", "d e", "f", "a d f b", "c c", "e"]
    tgt = ["x", "y z", "z z z", "x y", "y", "z"]
    vocab_s = WordVocab.from_lines(src, 10)
    vocab_t = WordVocab.from_lines(tgt, 10)
    return src, tgt, ParallelCorpus.from_lists(src, tgt, vocab_s, vocab_t)


def test_rows_decode_back_to_their_pairs_reversed():
    src, tgt, corpus = small_corpus()
    batches = list(BatchIterator(corpus, batch_size=4, reverse_source=True).iter_epoch(0))
    seen = []
    for b in batches:
        for row, index in enumerate(b.indices.tolist()):
            n = int(b.src_lengths[row])
            assert b.src[row, n:].eq(0).all()  # padding stays at the end, unreversed
            words = corpus.src_vocab.decode(b.src[row, :n].tolist()).split()
            assert words == src[index].split()[::-1]
            assert corpus.tgt_vocab.decode(b.tgt_out[row].tolist()) == tgt[index]
            seen.append(index)
    assert sorted(seen) == list(range(len(src)))


def test_empty_source_is_an_error():
    vocab = WordVocab.from_lines(["a"], 5)
    corpus = ParallelCorpus.from_lists(["a", ""], ["a", "a"], vocab, vocab)
    with pytest.raises(DataError, match="source sentence 1: empty source sentence"):
        list(BatchIterator(corpus).iter_epoch(0))
    with pytest.raises(DataError, match="source list has 2 sentences but the target list has 1"):
        ParallelCorpus.from_lists(["a", "a"], ["a"], vocab, vocab)


# ---------------------------------------------------------------------------------------------
# On real text: the committed slice's 2,000 training pairs


@pytest.fixture(scope="module")
def train_iter(word_data):
    return make_batches(word_data, "train", DataConfig(batch_size=64), shuffle=True, seed=7)


def test_every_pair_once_per_epoch_and_lengths_close(train_iter):
    batches = list(train_iter.iter_epoch(0))
    flat = [i for b in batches for i in b.indices.tolist()]
    assert sorted(flat) == list(range(2000))
    assert len(batches) == train_iter.num_batches() == 32  # ceil(2000 / 64)
    # sorted by source length: the batches' length ranges touch but never overlap, so at most
    # one batch straddles each step from one length to the next
    ranges = sorted((int(b.src_lengths.min()), int(b.src_lengths.max())) for b in batches)
    assert all(low >= high for (_, high), (low, _) in zip(ranges, ranges[1:])), ranges
    seen_lengths = {int(n) for b in batches for n in b.src_lengths}
    assert sum(low < high for low, high in ranges) <= len(seen_lengths) - 1
    real = sum(int(b.src_lengths.sum()) for b in batches)
    padded = sum(b.src.numel() for b in batches)
    assert real / padded > 0.95
    # a random batching of the same corpus pads far more, which is what bucketing saves (§3.4)
    lengths = [len(train_iter.corpus.src_vocab.encode(s)) for s in _lines(train_iter, 0)]
    random.Random(0).shuffle(lengths)
    random_padded = sum(
        max(lengths[i : i + 64]) * len(lengths[i : i + 64]) for i in range(0, 2000, 64)
    )
    assert real / random_padded < 0.75


def _lines(iterator, side):
    return iterator.corpus.paths[side].read_text(encoding="utf-8").splitlines()


def test_deterministic_for_seed_and_epoch(train_iter, word_data):
    first = list(train_iter.iter_epoch(0))
    again = make_batches(word_data, "train", DataConfig(batch_size=64), shuffle=True, seed=7)
    assert same_batches(first, list(again.iter_epoch(0)))
    epoch1 = indices_of(train_iter.iter_epoch(1))
    assert epoch1 != indices_of(first)
    assert sorted(map(tuple, epoch1)) != sorted(map(tuple, indices_of(first)))  # contents vary too
    other = make_batches(word_data, "train", DataConfig(batch_size=64), shuffle=True, seed=8)
    assert indices_of(other.iter_epoch(0)) != indices_of(first)


def test_skip_equals_dropping_batches(train_iter):
    full = list(train_iter.iter_epoch(3))
    assert same_batches(list(train_iter.iter_epoch(3, skip=10)), full[10:])
    assert [b.position for b in train_iter.iter_epoch(3, skip=28)] == [28, 29, 30, 31]


def test_shards_union_is_the_global_batch(train_iter):
    world = 3
    full = list(train_iter.iter_epoch(2))
    shards = [list(train_iter.iter_epoch(2, rank=r, world_size=world)) for r in range(world)]
    assert len({len(s) for s in shards}) == 1
    kept = [b for b in full if len(b) >= world]
    assert len(shards[0]) == len(kept)
    for glob, parts in zip(kept, zip(*shards)):
        union = sorted(i for p in parts for i in p.indices.tolist())
        assert union == sorted(glob.indices.tolist())
        assert all(p.global_sentences == len(glob) for p in parts)
        assert all(p.global_tgt_tokens == glob.n_tgt_tokens for p in parts)
        assert sum(p.n_tgt_tokens for p in parts) == glob.n_tgt_tokens
        assert len({p.position for p in parts}) == 1
    with pytest.raises(DataError, match="rank 3 is outside world size 3"):
        next(train_iter.iter_epoch(0, rank=3, world_size=3))


def test_token_budget_respected(word_data):
    budget = 1200
    it = make_batches(
        word_data, "train", DataConfig(batch_tokens=budget, bucket_size=4000), shuffle=True, seed=1
    )
    batches = list(it.iter_epoch(0))
    assert sorted(i for b in batches for i in b.indices.tolist()) == list(range(2000))
    for b in batches:
        cost = len(b) * max(b.src.shape[1], b.tgt_in.shape[1])
        assert cost <= budget or len(b) == 1
    assert sum(len(b) for b in batches) / len(batches) > 40  # budgets filled with short sentences
    assert len(batches) == it.num_batches()
    assert same_batches(list(it.iter_epoch(5, skip=37)), list(it.iter_epoch(5))[37:])


def test_validation_batches_keep_file_order_indices(word_data):
    it = make_batches(
        word_data, "valid", DataConfig(batch_size=100, reverse_source=False), shuffle=False
    )
    src_lines = _lines(it, 0)
    seen = {}
    for b in it.iter_epoch(0):
        for row, index in enumerate(b.indices.tolist()):
            n = int(b.src_lengths[row])
            seen[index] = word_data.src_vocab.decode(b.src[row, :n].tolist())
    assert len(seen) == 100
    vocab = word_data.src_vocab
    assert all(seen[i] == vocab.decode(vocab.encode(line)) for i, line in enumerate(src_lines))
    assert indices_of(it.iter_epoch(0)) == indices_of(it.iter_epoch(9))  # no shuffling


def test_buckets_cache_and_resume_without_reading(word_data, monkeypatch):
    calls = []
    one = make_batches(word_data, "train", DataConfig(batch_size=64), shuffle=True, seed=1)
    many = make_batches(
        word_data, "train", DataConfig(batch_size=64, bucket_size=350), shuffle=True
    )
    for it in (one, many):
        original = it.corpus.read_ranges
        monkeypatch.setattr(
            it.corpus, "read_ranges", lambda r, g, f=original: calls.append(r) or f(r, g)
        )
    list(one.iter_epoch(0))
    list(one.iter_epoch(1))
    assert calls == [[(0, 2000)]]  # the whole corpus is one bucket: encoded once, reused
    calls.clear()
    full = list(many.iter_epoch(1))
    assert sorted(calls) == sorted(many.layout.ranges(b) for b in range(6))  # <= 350 pairs
    assert sorted(i for b in full for i in b.indices.tolist()) == list(range(2000))
    calls.clear()
    rest = list(many.iter_epoch(1, skip=20))
    assert same_batches(rest, full[20:])
    assert len(calls) < 6  # buckets wholly before batch 20 were passed without reading


@pytest.mark.slow
def test_memory_is_bounded_by_the_bucket(tmp_path):
    rng = random.Random(0)
    words = [f"w{i}" for i in range(500)]
    vocab = WordVocab(words)

    def peak(n_pairs: int) -> int:
        src, tgt = tmp_path / f"{n_pairs}.src", tmp_path / f"{n_pairs}.tgt"
        for path in (src, tgt):
            with open(path, "w", encoding="utf-8") as handle:
                for _ in range(n_pairs):
                    handle.write(" ".join(rng.choices(words, k=rng.randint(3, 12))) + "\n")
        it = BatchIterator(ParallelCorpus(src, tgt, vocab, vocab), batch_size=50, bucket_size=1000)
        tracemalloc.start()
        count = sum(len(b) for b in it.iter_epoch(0))
        result = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert count == n_pairs
        return result

    small, large = peak(5_000), peak(50_000)
    # the pairs of one bucket, plus 24 bytes per block of 10 pairs (file offsets, bucket layout)
    assert large < 1.3 * small + 24 * (50_000 - 5_000) // 10, (small, large)


def test_shards_drop_global_batches_smaller_than_the_world():
    _, _, corpus = small_corpus()
    it = BatchIterator(corpus, batch_size=4, shuffle=False)
    assert [len(b) for b in it.iter_epoch(0)] == [4, 2]
    assert it.num_batches(world_size=3) == 1  # the batch of 2 rows cannot feed 3 ranks
    parts = [list(it.iter_epoch(0, rank=r, world_size=3)) for r in range(3)]
    assert [[len(b) for b in p] for p in parts] == [[2], [1], [1]]
    assert sum(p[0].n_tgt_tokens for p in parts) == parts[0][0].global_tgt_tokens


def test_resume_on_one_rank(train_iter):
    shard = list(train_iter.iter_epoch(4, rank=1, world_size=2))
    assert same_batches(list(train_iter.iter_epoch(4, skip=17, rank=1, world_size=2)), shard[17:])


def test_bucket_layout_deals_blocks_of_the_whole_corpus_to_every_bucket():
    layout = BucketLayout(2000, 350, shuffle=True, seed=1)
    assert layout.block == 3 and len(layout) == 6
    buckets = [layout.ranges(b) for b in range(len(layout))]
    rows = [first + k for ranges in buckets for first, count in ranges for k in range(count)]
    assert sorted(rows) == list(range(2000))  # every pair in exactly one bucket
    for b, ranges in enumerate(buckets):
        assert layout.pairs(b) <= 350
        assert ranges == sorted(ranges) and all(first % 3 == 0 for first, _ in ranges)
        assert ranges[0][0] < 500 and ranges[-1][0] >= 1500  # spread over the file
    other = BucketLayout(2000, 350, shuffle=True, seed=2)
    assert [other.ranges(b) for b in range(6)] != buckets  # drawn from the seed
    again = BucketLayout(2000, 350, shuffle=True, seed=1)
    assert [again.ranges(b) for b in range(6)] == buckets  # and only from it
    # without shuffling (validation), or one bucket: stretches of the file
    plain = BucketLayout(800, 350, shuffle=False, seed=1)
    assert [plain.ranges(b) for b in range(len(plain))] == [[(0, 350)], [(350, 350)], [(700, 100)]]
    assert BucketLayout(300, 350, shuffle=True, seed=1).ranges(0) == [(0, 300)]
    assert BucketLayout(0, 350, shuffle=True, seed=1).ranges(0) == [(0, 0)]


def test_a_corpus_sorted_by_length_gives_every_part_of_an_epoch_the_same_mix(tmp_path):
    """Tatoeba's dump is sorted by length. Buckets that were stretches of the file made each
    epoch run from short to long sentences (a saw-tooth training loss); each bucket is now a
    sample of the whole corpus."""
    rng = random.Random(3)
    words = [f"w{i}" for i in range(300)]
    vocab = WordVocab(words)
    lines = sorted(
        (" ".join(rng.choices(words, k=rng.randint(2, 40))) for _ in range(3000)), key=len
    )
    src, tgt = tmp_path / "sorted.src", tmp_path / "sorted.tgt"
    for path in (src, tgt):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    it = BatchIterator(ParallelCorpus(src, tgt, vocab, vocab), batch_size=30, bucket_size=500)
    batches = list(it.iter_epoch(0))
    assert sorted(i for b in batches for i in b.indices.tolist()) == list(range(3000))
    mean = sum(len(line.split()) for line in lines) / len(lines)

    def sixths(batches) -> list[float]:  # mean source length of each sixth (a bucket's worth)
        n = len(batches) // 6
        parts = [batches[k * n : (k + 1) * n] for k in range(6)]
        return [sum(b.n_src_tokens for b in p) / sum(len(b) for b in p) / mean for p in parts]

    assert all(0.85 < ratio < 1.15 for ratio in sixths(batches)), sixths(batches)
    # buckets that are stretches of the sorted file (as before) fail this by far
    stretches = BatchIterator(
        ParallelCorpus(src, tgt, vocab, vocab), batch_size=30, bucket_size=500
    )
    stretches._layout = BucketLayout(3000, 500, shuffle=False, seed=1)
    old = sixths(list(stretches.iter_epoch(0)))
    assert min(old) < 0.4 and max(old) > 1.5, old
    # the same corpus, in memory, gives the same batches
    in_memory = BatchIterator(
        ParallelCorpus.from_lists(lines, lines, vocab, vocab), batch_size=30, bucket_size=500
    )
    assert same_batches(list(in_memory.iter_epoch(0)), batches)
