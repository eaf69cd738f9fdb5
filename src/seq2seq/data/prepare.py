"""`seq2seq prepare`: turn raw parallel text into a data directory ready for training.

    seq2seq prepare --src train.en.gz --tgt train.fr.gz \\
        --valid-src val.en.gz --valid-tgt val.fr.gz --out data/en-fr
    seq2seq prepare --tsv pairs.tsv --vocab bpe --src-vocab-size 8000 --joint --out data/chat

The directory holds, for each split (train, and optionally valid and test), the cleaned text as
``<split>.src`` / ``<split>.tgt`` (UTF-8, one sentence per line, whitespace normalised, empty pairs
skipped), the same pairs as token ids (``<split>.src.ids`` / ``.tgt.ids`` / ``.offsets``, see
data/shards.py; training reads these, so nothing is tokenised twice), the vocabularies
``src.vocab.json`` / ``tgt.vocab.json``, and ``manifest.json``: the task (``--task``, default
translation; seq2seq/tasks.py), languages, the settings
(`PrepareConfig`), counts kept and dropped, lengths in tokens and the out-of-vocabulary rate of
each side.

Word vocabularies follow the paper (§3.1: the 160,000 most frequent source words and 80,000 target
words, the rest <unk>). ``--vocab char`` reads text character by character (a space is the token
``▁``; data/vocab.py's `CharVocab`); ``--src-vocab`` / ``--tgt-vocab`` choose a side's kind apart
from ``--vocab``, so grapheme-to-phoneme data is ``--src-vocab char --tgt-vocab word``. ``--max-len`` (default 250) drops training pairs with more tokens than
that on either side, counted in the vocabulary's own tokens (words or subword pieces); the number
dropped is logged and kept in the manifest (``too_long``). Dev and test sets are never
length-filtered, so scores stay comparable. ``--truncate-src N`` instead cuts each source of every
split (dev and test too, so a model reads at test time what it was trained on) to at most N source
tokens, after a whole word (`cut_source`); the number cut is logged and kept in the manifest
(``src_truncated``), and the length filter then judges the cut source. Source reversal is not applied here (it happens when
batches are built).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seq2seq.audio.features import AudioSource
from seq2seq.config import DEFAULT_MAX_LEN, PrepareConfig, VocabKind
from seq2seq.data.io import (
    AtomicTextFile,
    ParallelSource,
    ReadStats,
    guess_language,
    iter_lines,
    remove_stale_temps,
    temp_path,
)
from seq2seq.data.shards import IdsWriter
from seq2seq.data.vocab import (
    UNK_ID,
    CharVocab,
    ModelType,
    SentencePieceVocab,
    Vocab,
    WordVocab,
)
from seq2seq.errors import DataError
from seq2seq.tasks import get_task

MANIFEST = "manifest.json"
log = logging.getLogger(__name__)
FORMAT = "seq2seq-prepared"
VERSION = 1
SPLITS = ("train", "valid", "test")
__all__ = ["DEFAULT_MAX_LEN", "MANIFEST", "SPLITS", "PreparedData", "load_prepared", "prepare"]
_ENCODE_CHUNK = 10_000
# What shows progress: given the pairs being read and a label, it yields them (the command
# passes a progress bar; the library shows nothing by itself).
Progress = Callable[[Iterable[Any], str], Iterable[Any]]


# ---------------------------------------------------------------------------------------------
# The prepared directory, as the trainer and translator see it.


@dataclass
class PreparedData:
    """A data directory written by `prepare`: its manifest, vocabularies and split files."""

    dir: Path
    manifest: dict[str, Any]
    src_vocab: Any  # a Vocab; for a speech directory its AudioSource (audio/features.py)
    tgt_vocab: Vocab

    @property
    def splits(self) -> list[str]:
        return list(self.manifest["splits"])

    @property
    def src_lang(self) -> str | None:
        return self.manifest.get("src_lang")

    @property
    def tgt_lang(self) -> str | None:
        return self.manifest.get("tgt_lang")

    @property
    def task(self) -> str:
        """What the pairs are (seq2seq/tasks.py); translation for a manifest without one."""
        return get_task(self.manifest.get("task"), f"{self.dir / MANIFEST}").name

    def split_paths(self, split: str) -> tuple[Path, Path]:
        """(source file, target file) of a split; DataError if the split or a file is missing."""
        info = self.manifest["splits"].get(split)
        if info is None:
            have = ", ".join(self.splits)
            raise DataError(f"data directory {self.dir} has no '{split}' split (it has: {have})")
        paths = (self.dir / info["src"], self.dir / info["tgt"])
        for path in paths:
            if not path.is_file():
                raise DataError(
                    f"data directory {self.dir} lists {path.name} but the file is missing"
                )
        return paths


def load_prepared(directory: str | Path) -> PreparedData:
    """Open a data directory written by `prepare`; a missing or corrupt manifest is a DataError."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise DataError(
            f"data directory {directory} does not exist; create it with `seq2seq prepare`"
        )
    if not path.is_file():
        raise DataError(
            f"{directory} has no {MANIFEST}; create it with `seq2seq prepare --out {directory}`"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(
            f"{path}:{err.lineno}: corrupt manifest ({err.msg}); run `seq2seq prepare` again"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {path} ({err}); run `seq2seq prepare` again") from None
    _check_manifest(manifest, path)
    vocab = manifest["vocab"]
    src_vocab: Any
    if manifest.get("source", {}).get("kind") == "audio":  # a speech directory (prepare_audio.py)
        src_vocab = AudioSource.load(directory / vocab["src_file"])
    else:
        src_vocab = Vocab.load(directory / vocab["src_file"])
    tgt_vocab = Vocab.load(directory / vocab["tgt_file"])
    return PreparedData(directory, manifest, src_vocab, tgt_vocab)


def _check_manifest(manifest: Any, path: Path) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path} is not a manifest written by `seq2seq prepare`")
    if manifest.get("version") != VERSION:
        raise DataError(
            f"{path} has manifest version {manifest.get('version')}, this toolkit reads {VERSION}"
        )
    vocab, splits = manifest.get("vocab"), manifest.get("splits")
    if not isinstance(vocab, dict) or not {"src_file", "tgt_file"} <= vocab.keys():
        raise DataError(f"{path} lacks the vocabulary entries (vocab.src_file, vocab.tgt_file)")
    if not isinstance(splits, dict) or "train" not in splits:
        raise DataError(f"{path} lacks the 'train' split entry")
    for name, info in splits.items():
        if not isinstance(info, dict) or not {"src", "tgt"} <= info.keys():
            raise DataError(f"{path}: split '{name}' lacks its file names (src, tgt)")


# ---------------------------------------------------------------------------------------------
# Preparing.


@dataclass
class _SideStats:
    tokens: int = 0
    unk: int = 0
    longest: int = 0

    def add(self, ids: list[int]) -> None:
        self.tokens += len(ids)
        self.unk += ids.count(UNK_ID)
        self.longest = max(self.longest, len(ids))

    def report(self, prefix: str, pairs: int) -> dict[str, Any]:
        return {
            f"{prefix}_tokens": self.tokens,
            f"{prefix}_len_mean": round(self.tokens / pairs, 3) if pairs else 0.0,
            f"{prefix}_len_max": self.longest,
            f"{prefix}_oov_rate": round(self.unk / self.tokens, 6) if self.tokens else 0.0,
        }


def prepare(
    out_dir: str | Path,
    train: ParallelSource,
    valid: ParallelSource | None = None,
    test: ParallelSource | None = None,
    config: PrepareConfig | None = None,
    *,
    progress: Progress | None = None,
    **settings: Any,
) -> PreparedData:
    """Clean the splits, build the vocabularies from train and write `out_dir` (see the module
    doc) as `config` says; keyword `settings` replace some of its fields (``vocab="bpe"``), checked
    as the config is. Temporary files a killed run left in `out_dir` are removed first."""
    opts = PrepareConfig(**{**(config.model_dump() if config else {}), **settings})
    out = Path(out_dir)
    created = [d for d in (out, *out.absolute().parents) if not d.exists()]  # removed on failure
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"cannot create the output directory {out} ({err.strerror or err})"
        ) from None
    for stale in remove_stale_temps(out):
        log.info(f"removed {stale}, the remains of a killed run")
    sources = {name: s for name, s in zip(SPLITS, (train, valid, test)) if s is not None}
    counts: dict[str, Counter[str]] = {"src": Counter(), "tgt": Counter()}
    cuts: Counter[str] = Counter()  # sources cut to prepare.truncate_src, per split
    parts: list[Path] = []
    show = progress or (lambda items, label: items)
    try:
        read = {
            name: _clean_split(name, src, out, opts, counts, parts, show, cuts)
            for name, src in sources.items()
        }
        src_vocab, tgt_vocab = _build_vocabs(opts, counts, parts)
        splits = {
            name: _finish_split(
                name, out, (src_vocab, tgt_vocab), read[name], sources[name], opts, cuts
            )
            for name in sources
        }
    except BaseException:
        _remove_parts(parts)
        for folder in created:  # innermost first; only if still empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    _remove_parts(parts)
    src_vocab.save(out / "src.vocab.json")
    tgt_vocab.save(out / "tgt.vocab.json")
    manifest = _manifest(train, src_vocab, tgt_vocab, splits, opts)
    _write_json(out / MANIFEST, manifest)
    return PreparedData(out, manifest, src_vocab, tgt_vocab)


def _remove_parts(parts: list[Path]) -> None:
    for part in parts:
        part.unlink(missing_ok=True)


def _part(out: Path, split: str, side: str) -> Path:
    """Where pass 1 writes a split's cleaned side, a temporary name (`temp_path`)."""
    return temp_path(out / f"{split}.{side}.part")


def _clean_split(
    name: str,
    source: ParallelSource,
    out: Path,
    opts: PrepareConfig,
    counts: dict[str, Counter[str]],
    parts: list[Path],
    progress: Progress,
    cuts: Counter[str],
) -> ReadStats:
    """Pass 1: read, validate and clean a split into its two temporary parts (`_part`); for a
    word or character side, count its training tokens (of pairs within the length limit)."""
    stats = ReadStats()
    all_words = opts.vocab_kinds == ("word", "word")
    uncut = opts.truncate_src is None  # a source to be cut is never dropped for its length
    word_filter = opts.max_len if (name == "train" and all_words and uncut) else None
    cut = _source_cut(opts)
    src_part, tgt_part = _part(out, name, "src"), _part(out, name, "tgt")
    parts += [src_part, tgt_part]
    counted = _counted_sides(opts) if name == "train" else {}
    limit = opts.max_len
    pairs = source.pairs(empty_lines=opts.empty_lines, max_tokens=word_filter, stats=stats)
    with open(src_part, "w", encoding="utf-8") as fs, open(tgt_part, "w", encoding="utf-8") as ft:
        for s, t in progress(pairs, f"reading {name}"):
            if cut is not None:
                s, was_cut = cut(s)
                cuts[name] += was_cut
            fs.write(s + "\n")
            ft.write(t + "\n")
            if counted:
                seen = {side: split(s if side == "src" else t) for side, split in counted.items()}
                if limit is None or all(len(tokens) <= limit for tokens in seen.values()):
                    for side, tokens in seen.items():
                        counts[side].update(tokens)
    if name == "train" and stats.pairs == 0:
        raise DataError(f"the training data {', '.join(source.paths())} holds no usable pair")
    return stats


def _counted_sides(opts: PrepareConfig) -> dict[str, Callable[[str], list[str]]]:
    """The tokenizer of each side whose vocabulary is built from counts (word, char)."""
    tokenizers: dict[str, Callable[[str], list[str]]] = {
        "word": functools.partial(
            WordVocab.words_of, lowercase=opts.lowercase, split_punct=opts.split_punct
        ),
        "char": functools.partial(CharVocab.chars_of, lowercase=opts.lowercase),
    }
    sides = zip(("src", "tgt"), opts.vocab_kinds)
    return {side: tokenizers[kind] for side, kind in sides if kind in tokenizers}


def cut_source(text: str, limit: int, count: Callable[[str], int]) -> tuple[str, bool]:
    """(`text` cut to at most `limit` tokens as `count` counts them, whether it was cut).

    The cut follows the longest prefix within the limit back to its last whole word (a single
    word longer than the limit is cut inside itself); a binary search over prefixes, so a
    tokeniser whose count never falls as text grows is called about log2(len(text)) times."""
    if count(text) <= limit:
        return text, False
    low, high = 0, len(text)  # count(text[:low]) <= limit < count(text[:high])
    while high - low > 1:
        middle = (low + high) // 2
        if count(text[:middle]) <= limit:
            low = middle
        else:
            high = middle
    space = text.rfind(" ", 0, low + 1)
    end = space if space > 0 and not text[low].isspace() else low
    return text[:end].rstrip(), True


def _source_cut(opts: PrepareConfig) -> Callable[[str], tuple[str, bool]] | None:
    """Pass 1's source cut for a word or character source (counted by its tokenizer); None
    without prepare.truncate_src or for a SentencePiece source (cut in pass 2 by its model)."""
    tokenize = _counted_sides(opts).get("src")
    limit = opts.truncate_src
    if limit is None or tokenize is None:
        return None
    return lambda text: cut_source(text, limit, lambda t: len(tokenize(t)))


def _build_vocabs(
    opts: PrepareConfig, counts: dict[str, Counter[str]], parts: list[Path]
) -> tuple[Vocab, Vocab]:
    """The vocabularies, from the token counts (word, char) or from train's cleaned parts
    (`parts[:2]`, SentencePiece), each side of its own kind."""
    src_size, tgt_size = opts.vocab_sizes
    src_kind, tgt_kind = opts.vocab_kinds
    src_part, tgt_part = parts[:2]
    if opts.joint:  # one kind, checked by PrepareConfig
        both = itertools.chain(iter_lines(src_part), iter_lines(tgt_part))
        shared = _side_vocab(src_kind, counts["src"] + counts["tgt"], both, src_size, opts, "joint")
        return shared, shared
    return (
        _side_vocab(src_kind, counts["src"], iter_lines(src_part), src_size, opts, "source"),
        _side_vocab(tgt_kind, counts["tgt"], iter_lines(tgt_part), tgt_size, opts, "target"),
    )


def _side_vocab(
    kind: VocabKind,
    counts: Counter[str],
    lines: Iterator[str],
    size: int,
    opts: PrepareConfig,
    side: str,
) -> Vocab:
    """One side's vocabulary: built from its counts, or a SentencePiece model trained on `lines`."""
    if kind == "word":
        return WordVocab.build(counts, size, opts.lowercase, opts.split_punct)
    if kind == "char":
        return CharVocab.build(counts, size, opts.lowercase)
    return _train_sp(lines, size, opts, side, kind)


def _train_sp(
    lines: Iterator[str], size: int, opts: PrepareConfig, side: str, kind: ModelType
) -> SentencePieceVocab:
    assert kind in ("bpe", "unigram")  # word and char vocabularies are built, not trained
    log.info(f"training the {side} SentencePiece {kind} model ({size} pieces)...")
    try:
        return SentencePieceVocab.train(
            lines,
            size,
            model_type=kind,
            lowercase=opts.lowercase,
            character_coverage=opts.character_coverage,
            byte_fallback=opts.byte_fallback,
            sample_size=opts.sp_sample,
            seed=opts.seed,
        )
    except DataError as err:
        raise DataError(f"{side} vocabulary: {err}") from None


def _finish_split(
    name: str,
    out: Path,
    vocabs: tuple[Vocab, Vocab],
    read: ReadStats,
    source: ParallelSource,
    opts: PrepareConfig,
    cuts: Counter[str],
) -> dict[str, Any]:
    """Pass 2: encode the cleaned split, cut SentencePiece sources to prepare.truncate_src, apply
    the length filter in vocabulary tokens (train only), write the final files and measure
    lengths and unknown-token rates."""
    src_vocab, tgt_vocab = vocabs
    limit = opts.max_len if name == "train" else None
    src_stats, tgt_stats = _SideStats(), _SideStats()
    too_long = read.too_long
    kept = 0
    src_file, tgt_file = f"{name}.src", f"{name}.tgt"
    ids = IdsWriter(out, name, len(src_vocab), len(tgt_vocab)) if opts.ids else nullcontext()
    with AtomicTextFile(out / src_file) as fs, AtomicTextFile(out / tgt_file) as ft, ids as writer:
        chunks = _chunks(iter_lines(_part(out, name, "src")), iter_lines(_part(out, name, "tgt")))
        for src_text, tgt_text in chunks:
            kept_src: list[list[int]] = []
            kept_tgt: list[list[int]] = []
            for s, t, s_ids, t_ids in zip(
                src_text,
                tgt_text,
                src_vocab.encode_batch(src_text),
                tgt_vocab.encode_batch(tgt_text),
            ):
                if opts.truncate_src is not None and len(s_ids) > opts.truncate_src:
                    s, _ = cut_source(s, opts.truncate_src, lambda x: len(src_vocab.encode(x)))
                    s_ids = src_vocab.encode(s)
                    cuts[name] += 1
                if limit is not None and (len(s_ids) > limit or len(t_ids) > limit):
                    too_long += 1
                    continue
                fs.write(s + "\n")
                ft.write(t + "\n")
                src_stats.add(s_ids)
                tgt_stats.add(t_ids)
                kept += 1
                kept_src.append(s_ids)
                kept_tgt.append(t_ids)
            if writer is not None:
                writer.add(kept_src, kept_tgt)
    if name == "train" and kept == 0:
        raise DataError(f"every training pair is longer than prepare.max_len {opts.max_len} tokens")
    if too_long:
        log.warning(
            f"{name}: dropped {too_long:,} of {read.lines:,} pairs longer than {limit} tokens on "
            "a side (prepare.max_len; counted in the manifest as too_long)"
        )
    if read.empty:
        log.info(f"{name}: skipped {read.empty:,} pairs with an empty side")
    if cuts[name]:
        log.info(
            f"{name}: cut {cuts[name]:,} of {read.lines:,} sources to {opts.truncate_src} tokens "
            "(prepare.truncate_src; counted in the manifest as src_truncated)"
        )
    return {
        "src": src_file,
        "tgt": tgt_file,
        "inputs": source.paths(),
        "lines_read": read.lines,
        "pairs": kept,
        "empty": read.empty,
        "too_long": too_long,
        "src_truncated": cuts[name],
        **({"ids": writer.info()} if writer is not None else {}),
        **src_stats.report("src", kept),
        **tgt_stats.report("tgt", kept),
    }


def _chunks(src: Iterator[str], tgt: Iterator[str]) -> Iterator[tuple[list[str], list[str]]]:
    """Aligned chunks of both cleaned sides, so subword encoding runs in batches."""
    src_chunk: list[str] = []
    tgt_chunk: list[str] = []
    for s, t in zip(src, tgt, strict=True):
        src_chunk.append(s)
        tgt_chunk.append(t)
        if len(src_chunk) == _ENCODE_CHUNK:
            yield src_chunk, tgt_chunk
            src_chunk, tgt_chunk = [], []
    if src_chunk:
        yield src_chunk, tgt_chunk


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with AtomicTextFile(path) as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


def _manifest(train, src_vocab, tgt_vocab, splits, opts: PrepareConfig) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "task": opts.task,
        "src_lang": opts.src_lang or guess_language(train.src),
        "tgt_lang": opts.tgt_lang or guess_language(train.tgt),
        "vocab": {
            "kind": _kind_name(opts),
            "src_kind": opts.vocab_kinds[0],
            "tgt_kind": opts.vocab_kinds[1],
            "joint": opts.joint,
            "lowercase": opts.lowercase,
            "split_punct": opts.split_punct,
            "src_size": len(src_vocab),
            "tgt_size": len(tgt_vocab),
            "requested_src_size": opts.vocab_sizes[0],
            "requested_tgt_size": opts.vocab_sizes[1],
            "src_file": "src.vocab.json",
            "tgt_file": "tgt.vocab.json",
        },
        "max_len": opts.max_len,
        "empty_lines": opts.empty_lines,
        "settings": opts.model_dump(mode="json"),  # every setting, new ones included
        "splits": splits,
    }


def _kind_name(opts: PrepareConfig) -> str:
    """'word', or 'char/word' for a character source and a word target."""
    src_kind, tgt_kind = opts.vocab_kinds
    return src_kind if src_kind == tgt_kind else f"{src_kind}/{tgt_kind}"


# ---------------------------------------------------------------------------------------------
# Report and command line.


def summary_table(manifest: dict[str, Any]) -> str:
    """A plain-text table of the manifest's numbers, one row per split."""
    v = manifest["vocab"]
    langs = f"{manifest.get('src_lang') or 'src'} -> {manifest.get('tgt_lang') or 'tgt'}"
    head = (
        f"{manifest.get('task', 'translation')}, {langs}: {v['kind']} vocabulary{' (joint)' if v['joint'] else ''}, "
        f"source {v['src_size']:,} / target {v['tgt_size']:,} entries"
    )
    cols = ["split", "pairs", "empty", "too long", "src len", "tgt len", "src OOV", "tgt OOV"]
    rows = [cols]
    for name, s in manifest["splits"].items():
        rows.append(
            [
                name,
                f"{s['pairs']:,}",
                f"{s['empty']:,}",
                f"{s['too_long']:,}",
                f"{s['src_len_mean']:.1f} / {s['src_len_max']}",
                f"{s['tgt_len_mean']:.1f} / {s['tgt_len_max']}",
                f"{100 * s['src_oov_rate']:.2f}%",
                f"{100 * s['tgt_oov_rate']:.2f}%",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("(lengths in tokens: mean / max)")
    limit = manifest.get("settings", {}).get("truncate_src")
    if limit is not None:
        cut = ", ".join(f"{n} {s.get('src_truncated', 0):,}" for n, s in manifest["splits"].items())
        lines.append(f"sources cut to {limit} tokens (truncate_src): {cut}")
    return "\n".join([head, *lines])
