"""The binary (token id) form of a prepared split: the files, reading them back, batches equal to
the text path's, resuming mid-epoch without reading the skipped buckets, and exact resume of a
training run on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from seq2seq.config import Config, DataConfig
from seq2seq.data.batching import BatchIterator, ParallelCorpus, make_batches
from seq2seq.data.io import ParallelSource, iter_lines
from seq2seq.data.prepare import load_prepared, prepare
from seq2seq.data.shards import IdsCorpus, IdsWriter, ids_dtype
from seq2seq.errors import DataError


def _write(tmp_path, src, tgt, src_size=100, tgt_size=100, split="train"):
    with IdsWriter(tmp_path, split, src_size, tgt_size) as writer:
        for lo in range(0, len(src), 3):  # several chunks
            writer.add(src[lo : lo + 3], tgt[lo : lo + 3])
    return writer.info()


def test_ids_round_trip_offsets_and_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    src = [rng.integers(4, 99, rng.integers(1, 9)).tolist() for _ in range(11)]
    tgt = [rng.integers(4, 70_000, rng.integers(0, 9)).tolist() for _ in range(11)]
    info = _write(tmp_path, src, tgt, src_size=100, tgt_size=70_001)
    assert info["src_dtype"] == "uint16" and info["tgt_dtype"] == "uint32"
    assert info["pairs"] == 11 and info["src_tokens"] == sum(map(len, src))
    assert ids_dtype(65_536) == "uint16" and ids_dtype(65_537) == "uint32"
    # the files are what the module doc says: raw little-endian ids and (n + 1) x 2 offsets
    raw = np.fromfile(tmp_path / "train.src.ids", "<u2")
    assert raw.tolist() == [i for ids in src for i in ids]
    offsets = np.fromfile(tmp_path / "train.offsets", "<i8").reshape(-1, 2)
    assert offsets.shape == (12, 2) and offsets[0].tolist() == [0, 0]
    assert np.diff(offsets[:, 1]).tolist() == [len(t) for t in tgt]
    assert not list(tmp_path.glob(".*.seq2seq-tmp-*"))

    corpus = IdsCorpus(tmp_path, info)
    assert len(corpus) == 11
    pairs = corpus.read_bucket(1, 4)  # pairs 4..7
    assert [p[0] for p in pairs] == [4, 5, 6, 7]
    assert [p[1].tolist() for p in pairs] == src[4:8]
    assert [p[2].tolist() for p in pairs] == tgt[4:8]
    assert [p[0] for p in corpus.read_bucket(2, 4)] == [8, 9, 10]  # the short last bucket
    src_lens, tgt_lens = corpus.range_lengths([(8, 3)])
    assert src_lens.tolist() == [len(s) for s in src[8:]]
    assert tgt_lens.tolist() == [len(t) for t in tgt[8:]]
    # several ranges read as one bucket: pairs, indices and lengths in the order asked
    ranges = [(9, 2), (0, 1), (4, 3)]
    rows = [9, 10, 0, 4, 5, 6]
    scattered = corpus.read_ranges(ranges)
    assert [p[0] for p in scattered] == rows
    assert [p[1].tolist() for p in scattered] == [src[i] for i in rows]
    assert [p[2].tolist() for p in scattered] == [tgt[i] for i in rows]
    assert scattered.lengths() == ([len(src[i]) for i in rows], [len(tgt[i]) for i in rows])
    assert corpus.range_lengths(ranges)[1].tolist() == [len(tgt[i]) for i in rows]


def test_damaged_files_are_one_sentence_and_a_failed_write_leaves_nothing(tmp_path):
    info = _write(tmp_path, [[5, 6], [7]], [[8], [9, 10]])
    with open(tmp_path / "train.tgt.ids", "r+b") as handle:
        handle.truncate(2)
    with pytest.raises(DataError, match=r"train\.tgt\.ids has 2 bytes, the manifest says 6"):
        IdsCorpus(tmp_path, info)
    info = _write(tmp_path, [[5, 6], [7]], [[8], [9, 10]])
    (tmp_path / "train.offsets").unlink()
    with pytest.raises(DataError, match="offsets is missing"):
        IdsCorpus(tmp_path, info)
    with pytest.raises(DataError, match="format other version 7"):
        IdsCorpus(tmp_path, {**info, "format": "other", "version": 7})

    folder = tmp_path / "failed"
    folder.mkdir()
    with pytest.raises(DataError, match="outside the vocabulary"):
        with IdsWriter(folder, "valid", 10, 10) as writer:
            writer.add([[1, 2]], [[3]])
            writer.add([[11]], [[3]])
    assert list(folder.iterdir()) == []


def test_an_empty_source_is_refused_with_its_pair_number(tmp_path):
    info = _write(tmp_path, [[5], [], [6]], [[7], [8], [9]])
    with pytest.raises(DataError, match="pair 2 has an empty source"):
        IdsCorpus(tmp_path, info).read_bucket(0, 10)


def test_prepare_writes_the_ids_it_encoded(corpus, tmp_path):
    out = tmp_path / "bpe"
    prepare(
        out,
        ParallelSource(corpus / "train.en.gz", corpus / "train.fr.gz"),
        valid=ParallelSource(corpus / "valid.en.gz", corpus / "valid.fr.gz"),
        vocab="bpe",
        src_vocab_size=500,
        tgt_vocab_size=600,
        progress=False,
    )
    data = load_prepared(out)
    for split, pairs in (("train", 2000), ("valid", 100)):
        info = data.manifest["splits"][split]["ids"]
        assert info["pairs"] == pairs == data.manifest["splits"][split]["pairs"]
        assert info["src_tokens"] == data.manifest["splits"][split]["src_tokens"]
        ids = IdsCorpus(out, info).read_bucket(0, pairs)
        src_path, tgt_path = data.split_paths(split)
        src_text, tgt_text = list(iter_lines(src_path)), list(iter_lines(tgt_path))
        assert [p[1].tolist() for p in ids] == data.src_vocab.encode_batch(src_text)
        assert [p[2].tolist() for p in ids] == data.tgt_vocab.encode_batch(tgt_text)
    # without ids: the manifest says so and training reads (and encodes) the text
    plain = tmp_path / "plain"
    prepare(
        plain,
        ParallelSource(corpus / "valid.en.gz", corpus / "valid.fr.gz"),
        vocab="word",
        ids=False,
        progress=False,
    )
    assert "ids" not in json.loads((plain / "manifest.json").read_text())["splits"]["train"]
    assert not list(plain.glob("*.ids"))
    cfg = DataConfig(dir=str(plain))
    assert isinstance(
        make_batches(load_prepared(plain), "train", cfg, shuffle=True).corpus, ParallelCorpus
    )


def _batches(iterator, **kwargs):
    return [
        (b.indices.tolist(), b.src.tolist(), b.tgt_in.tolist(), b.tgt_out.tolist(),
         b.global_sentences, b.global_tgt_tokens, b.position)
        for b in iterator.iter_epoch(**kwargs)
    ]  # fmt: skip


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 64, "bucket_size": 100_000, "shuffle": True},
        {"batch_size": 50, "bucket_size": 300, "shuffle": True},
        {"batch_tokens": 700, "bucket_size": 300, "shuffle": True},
        {"batch_tokens": 700, "bucket_size": 300, "shuffle": False, "reverse_source": False},
    ],
    ids=["one-bucket", "buckets", "token-budget", "unshuffled"],
)
def test_ids_give_the_batches_of_the_text(word_data, options):
    assert "ids" in word_data.manifest["splits"]["train"]
    cfg = DataConfig(**{k: v for k, v in options.items() if k != "shuffle"})
    ids_iter = make_batches(word_data, "train", cfg, shuffle=options["shuffle"], seed=3)
    assert isinstance(ids_iter.corpus, IdsCorpus)
    text_corpus = ParallelCorpus(
        *word_data.split_paths("train"), word_data.src_vocab, word_data.tgt_vocab
    )
    text_iter = BatchIterator(
        text_corpus,
        batch_size=cfg.batch_size,
        batch_tokens=cfg.batch_tokens,
        bucket_size=cfg.bucket_size,
        shuffle=options["shuffle"],
        seed=3,
        reverse_source=cfg.reverse_source,
    )
    assert ids_iter.num_batches() == text_iter.num_batches()
    for epoch in (0, 1):
        assert _batches(ids_iter, epoch=epoch) == _batches(text_iter, epoch=epoch)
    for rank in (0, 1):  # data parallel: each rank's share of the global batch
        got = _batches(ids_iter, epoch=1, rank=rank, world_size=2)
        assert got == _batches(text_iter, epoch=1, rank=rank, world_size=2)


def test_resume_reaches_the_position_without_reading_skipped_buckets(word_data, monkeypatch):
    cfg = DataConfig(batch_tokens=600, bucket_size=250)  # 8 buckets, counted by token budget
    fresh = make_batches(word_data, "train", cfg, shuffle=True, seed=5)
    full = _batches(fresh, epoch=2)
    order = fresh._bucket_order(2)
    counts = [fresh._known_count(b, 1) for b in order]
    skip = sum(counts[:5]) + 3  # three batches into the sixth bucket of the epoch

    # a new process: nothing cached; count the token reads
    resumed = make_batches(word_data, "train", cfg, shuffle=True, seed=5)
    token_reads = []
    original = resumed.corpus.read_range
    monkeypatch.setattr(
        resumed.corpus,
        "read_range",
        lambda first, n: token_reads.append(first) or original(first, n),
    )
    assert _batches(resumed, epoch=2, skip=skip) == full[skip:]
    unskipped = [first for b in order[5:] for first, _ in fresh.layout.ranges(b)]
    assert sorted(token_reads) == sorted(unskipped)  # skipped buckets: their tokens not read
    assert full[skip][-1] == skip  # the batch's position within the epoch


def _config(data_dir, out_dir, max_steps):
    return Config.model_validate(
        {
            "data": {"dir": str(data_dir), "batch_tokens": 500, "bucket_size": 300},
            "model": {"embedding_size": 16, "hidden_size": 24, "layers": 1, "dropout": 0.2},
            "train": {
                "out_dir": str(out_dir),
                "optimizer": "sgd",
                "lr": 0.5,
                "schedule": "constant",
                "max_steps": max_steps,
                "valid_every": 1000,
                "save_every": 7,
                "log_every": 5,
                "valid_bleu": False,
                "tensorboard": False,
                "threads": 1,
            },
        }
    )


@pytest.mark.slow
def test_training_on_ids_resumes_mid_epoch_exactly(data_dir, tmp_path):
    """Stop a run mid-epoch (a checkpoint at step 14, inside a bucket), resume it from that
    checkpoint, and end with the weights of a run that never stopped."""
    from seq2seq.checkpoint import read_checkpoint
    from seq2seq.experiment import build_trainer

    torch.set_num_threads(1)
    unbroken = build_trainer(_config(data_dir, tmp_path / "unbroken", 24))
    assert isinstance(unbroken.train_batches.corpus, IdsCorpus)
    assert 24 < unbroken.steps_per_epoch  # the stop and the end both fall inside epoch 0
    unbroken.fit()

    first = build_trainer(_config(data_dir, tmp_path / "broken", 14))
    state = first.fit()
    assert (state.epoch, state.batch_in_epoch) == (0, 14)
    second = build_trainer(_config(data_dir, tmp_path / "broken", 24), resume=True)
    assert second.state.batch_in_epoch == 14
    second.fit()

    def final(run):
        return read_checkpoint(run / "last.safetensors").model_state

    a, b = final(tmp_path / "unbroken"), final(tmp_path / "broken")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0, msg=name)


def test_shortlist_from_ids_equals_from_text_and_samples_a_large_corpus(word_data, tmp_path):
    import shutil

    from seq2seq.data.shortlist import Shortlist, build_from_data

    from_ids = build_from_data(word_data.dir)
    text_only = tmp_path / "text-only"
    shutil.copytree(word_data.dir, text_only)
    manifest = json.loads((text_only / "manifest.json").read_text())
    del manifest["splits"]["train"]["ids"]
    (text_only / "manifest.json").write_text(json.dumps(manifest))
    from_text = build_from_data(text_only)
    for a, b in zip(from_ids.to_tensors().values(), from_text.to_tensors().values(), strict=True):
        assert torch.equal(a, b)

    # over the key budget: every stride-th pair, the stride the smallest that fits
    corpus = IdsCorpus(word_data.dir, word_data.manifest["splits"]["train"]["ids"])
    pairs = list(corpus.read_bucket(0, len(corpus)))
    keys = sum(len(p[1]) * len(p[2]) for p in pairs)
    sampled = build_from_data(word_data.dir, max_keys=keys // 4)
    stride = -(-keys // (keys // 4))
    assert stride in (4, 5)
    tgt = word_data.tgt_vocab
    want = Shortlist.build(
        [(p[1], p[2]) for p in pairs[::stride]],
        len(word_data.src_vocab),
        len(tgt),
        always=[tgt.eos_id, tgt.unk_id],
        never=sorted({tgt.bos_id, tgt.pad_id}),
    )
    assert torch.equal(sampled.table, want.table) and torch.equal(sampled.frequent, want.frequent)
    assert not torch.equal(sampled.table, from_ids.table)
