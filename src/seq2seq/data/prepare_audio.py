"""`seq2seq prepare` for speech: audio files and transcripts to feature shards, ready for training.

    seq2seq prepare --manifest data/an4/train.tsv --test-manifest data/an4/test.tsv --out data/an4-prep
    seq2seq prepare --audio-dir clips/ --transcripts clips.tsv --out data/mine

A corpus is a manifest of ``audio<TAB>transcript`` lines (the audio's path relative to the
manifest's folder, or absolute; blank lines and lines starting with ``#`` are skipped), or a folder
of audio files with a transcript file of ``name<TAB>text`` lines (the name with or without its
.wav/.flac/.ogg/.sph suffix). Every file is read (`audio.io.read_audio`: resampled to the feature
rate, bad audio one sentence naming the file and its manifest line), turned into log-mel frames
(`audio.features.log_mel`) and written to the split's feature shard (data/feature_shards.py), so
training reads no audio. The transcripts are cleaned and encoded as the text path does: characters
by default (``--tgt-vocab word|bpe|unigram`` otherwise), built from the training transcripts; a
training utterance with more than ``--max-len`` target tokens is dropped and counted.

The directory holds per split ``<split>.feats`` / ``.feats.offsets`` / ``.tgt.ids`` /
``.tgt.offsets``, ``<split>.src`` (each utterance's audio file, an absolute path) and ``<split>.tgt``
(its transcript), the target vocabulary ``tgt.vocab.json``, ``src.audio.json`` (the feature settings
and the training frames' per-band mean and deviation: `AudioSource`) and ``manifest.json`` with the
task ``speech`` and the same under ``source``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seq2seq.audio.features import AudioSource, FeatureConfig, FrameStats, log_mel
from seq2seq.audio.io import AUDIO_SUFFIXES, AudioConfig, read_audio
from seq2seq.config import PrepareConfig
from seq2seq.data.feature_shards import FeatureWriter
from seq2seq.data.io import AtomicTextFile, clean_line, remove_stale_temps
from seq2seq.data.prepare import (
    FORMAT,
    MANIFEST,
    SPLITS,
    VERSION,
    Progress,
    _check_manifest,
    _side_vocab,
    _write_json,
)
from seq2seq.data.vocab import UNK_ID, CharVocab, Vocab, WordVocab
from seq2seq.errors import AudioError, ConfigError, DataError
from seq2seq.tasks import get_task

log = logging.getLogger(__name__)
SOURCE_FILE = "src.audio.json"


@dataclass(frozen=True)
class Utterance:
    audio: Path  # absolute
    text: str  # cleaned transcript
    where: str  # "train.tsv:12", for messages


@dataclass
class AudioCorpus:
    """One split's utterances: a ``manifest`` (audio<TAB>transcript, paths relative to it), or an
    ``audio_dir`` with a ``transcripts`` file (name<TAB>text)."""

    manifest: Path | None = None
    audio_dir: Path | None = None
    transcripts: Path | None = None

    def __post_init__(self) -> None:
        if (self.manifest is None) == (self.transcripts is None):
            raise DataError("give a corpus as a manifest, or as an audio folder with transcripts")
        if self.transcripts is not None and self.audio_dir is None:
            raise DataError(f"transcripts {self.transcripts} need the folder of their audio files")

    def paths(self) -> list[str]:
        return [str(p) for p in (self.manifest, self.audio_dir, self.transcripts) if p is not None]

    def utterances(self, empty_lines: str = "skip") -> tuple[list[Utterance], int]:
        """(the utterances, the number skipped for an empty transcript); a malformed line, or an
        audio file that is not there, is a DataError naming the file and line."""
        listing = self.manifest if self.manifest is not None else self.transcripts
        assert listing is not None  # __post_init__
        found: list[Utterance] = []
        empty = 0
        for lineno, name, text in _tab_lines(listing):
            where = f"{listing}:{lineno}"
            if not text:
                if empty_lines == "error":
                    raise DataError(f"{where}: empty transcript (prepare.empty_lines is 'error')")
                empty += 1
                continue
            audio = self._locate(name, where)
            found.append(Utterance(audio, text, where))
        return found, empty

    def _locate(self, name: str, where: str) -> Path:
        if self.manifest is not None:
            path = Path(name)
            path = path if path.is_absolute() else self.manifest.parent / path
            if not path.is_file():
                raise DataError(f"{where}: audio file {path} does not exist")
            return path.absolute()
        assert self.audio_dir is not None
        candidates = [self.audio_dir / name] + [self.audio_dir / (name + s) for s in AUDIO_SUFFIXES]
        for path in candidates:
            if path.is_file():
                return path.absolute()
        raise DataError(
            f"{where}: no audio file {name} (or {name}.wav/.flac/.ogg/.sph) in {self.audio_dir}"
        )


def _tab_lines(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line number, first field, cleaned rest) of each TAB line; comments and blanks skipped."""
    try:
        with open(path, encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                name, tab, text = line.rstrip("\r\n").partition("\t")
                if not tab or not name.strip():
                    raise DataError(
                        f"{path}:{lineno}: expected 'audio<TAB>transcript', found no tab"
                        if not tab
                        else f"{path}:{lineno}: the audio file name is empty"
                    )
                yield lineno, name.strip(), clean_line(text)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise DataError(f"cannot read {path} ({err.strerror or err})") from None


@dataclass
class SpeechData:
    """A data directory written by `prepare_audio`: manifest, audio source and target vocabulary."""

    dir: Path
    manifest: dict[str, Any]
    source: AudioSource
    tgt_vocab: Vocab

    @property
    def splits(self) -> list[str]:
        return list(self.manifest["splits"])

    @property
    def task(self) -> str:
        return get_task(self.manifest.get("task"), f"{self.dir / MANIFEST}").name


def is_speech_dir(directory: str | Path) -> bool:
    """Whether a prepared directory's manifest has an audio source."""
    import json

    try:
        manifest = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("source", {}).get("kind") == "audio"


def load_speech_data(directory: str | Path) -> SpeechData:
    """Open a speech data directory (its manifest read and checked as `load_prepared` does)."""
    import json

    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise DataError(f"{directory} has no {MANIFEST}; create it with `seq2seq prepare`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path} ({err}); run `seq2seq prepare` again") from None
    _check_manifest(manifest, path)
    if manifest.get("source", {}).get("kind") != "audio":
        raise DataError(f"{directory} holds text pairs, not audio (prepared without --manifest)")
    source = AudioSource.load(directory / manifest["vocab"]["src_file"])
    tgt_vocab = Vocab.load(directory / manifest["vocab"]["tgt_file"])
    return SpeechData(directory, manifest, source, tgt_vocab)


# ---------------------------------------------------------------------------------------------
# Preparing.


def speech_settings(config: PrepareConfig | None = None, **settings: Any) -> PrepareConfig:
    """The prepare settings for speech: task speech, a character target unless a kind is given;
    settings that concern a text source are refused (one sentence naming them)."""
    given = {**(config.model_dump(exclude_unset=True) if config else {}), **settings}
    if given.get("task", "speech") != "speech":
        raise ConfigError(
            f"prepare.task is '{given['task']}', but audio sources make a speech task"
        )
    for key in ("src_vocab", "src_vocab_size", "joint", "truncate_src", "src_lang"):
        if given.get(key):
            raise ConfigError(
                f"prepare.{key} concerns a text source; this corpus's source is audio"
            )
    if "vocab" not in given and "tgt_vocab" not in given:
        given["tgt_vocab"] = "char"
    kind = given.get("tgt_vocab") or given.get("vocab")
    return PrepareConfig(**{**given, "task": "speech", "vocab": kind, "tgt_vocab": kind})


def prepare_audio(
    out_dir: str | Path,
    train: AudioCorpus,
    valid: AudioCorpus | None = None,
    test: AudioCorpus | None = None,
    config: PrepareConfig | None = None,
    features: FeatureConfig | None = None,
    audio: AudioConfig | None = None,
    *,
    progress: Progress | None = None,
    **settings: Any,
) -> SpeechData:
    """Read, featurise and encode the splits into `out_dir` (see the module doc). Every listing
    is checked (lines, files present) before any audio is read; keyword `settings` replace fields
    of `config` as in `prepare`."""
    opts = speech_settings(config, **settings)
    features, audio = features or FeatureConfig(), audio or AudioConfig()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"cannot create the output directory {out} ({err.strerror or err})"
        ) from None
    for stale in remove_stale_temps(out):
        log.info(f"removed {stale}, the remains of a killed run")
    corpora = {name: c for name, c in zip(SPLITS, (train, valid, test)) if c is not None}
    listed = {name: corpus.utterances(opts.empty_lines) for name, corpus in corpora.items()}
    if not listed["train"][0]:
        raise DataError(f"the training data {', '.join(train.paths())} holds no usable utterance")
    tgt_vocab = _target_vocab(opts, [u.text for u in listed["train"][0]])
    stats = FrameStats(features.n_mels)
    show = progress or (lambda items, label: items)
    splits = {}
    with _one_thread():
        for name, (utterances, empty) in listed.items():
            writer = _SplitWriter(out, name, tgt_vocab, features, audio, opts)
            splits[name] = writer.write(utterances, stats if name == "train" else None, show)
            splits[name].update(inputs=corpora[name].paths(), empty=empty)
    mean, std = stats.mean_std()
    source = AudioSource(features, mean, std)
    _write_json(out / SOURCE_FILE, source.to_dict())
    tgt_vocab.save(out / "tgt.vocab.json")
    manifest = _manifest(source, tgt_vocab, splits, opts, audio)
    _write_json(out / MANIFEST, manifest)
    return SpeechData(out, manifest, source, tgt_vocab)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Torch on one thread for the block: one utterance's STFT is too small to share, and two
    threads that wait for each other cost a hundred times the work on a busy machine (measured:
    81 ms against 0.6 ms of CPU per two-second utterance)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _target_vocab(opts: PrepareConfig, texts: list[str]) -> Vocab:
    """The target vocabulary from the training transcripts, of the kind and size `opts` say."""
    kind = opts.vocab_kinds[1]
    counts: Counter[str] = Counter()
    if kind in ("word", "char"):
        split = (
            (lambda t: CharVocab.chars_of(t, opts.lowercase))
            if kind == "char"
            else (lambda t: WordVocab.words_of(t, opts.lowercase, opts.split_punct))
        )
        for text in texts:
            counts.update(split(text))
    return _side_vocab(kind, counts, iter(texts), opts.vocab_sizes[1], opts, "target")


class _SplitWriter:
    """Writes one split: its feature shard, its .src (audio paths) and .tgt (transcripts)."""

    def __init__(self, out, name, tgt_vocab, features, audio, opts) -> None:
        self.out, self.name, self.tgt_vocab = out, name, tgt_vocab
        self.features, self.audio = features, audio
        self.limit = opts.max_len if name == "train" else None

    def write(self, utterances: list[Utterance], stats: FrameStats | None, show) -> dict[str, Any]:
        """Write the split's files (train: add its frames to `stats`); its manifest record."""
        too_long, seconds, longest, unk = 0, 0.0, [0, 0], 0
        src_file, tgt_file = f"{self.name}.src", f"{self.name}.tgt"
        shard = FeatureWriter(self.out, self.name, self.features.n_mels, len(self.tgt_vocab))
        src_out, tgt_out = AtomicTextFile(self.out / src_file), AtomicTextFile(self.out / tgt_file)
        with src_out as fs, tgt_out as ft, shard:
            for utt in show(utterances, f"features {self.name}"):
                ids = self.tgt_vocab.encode(utt.text)
                if self.limit is not None and len(ids) > self.limit:
                    too_long += 1
                    continue
                wave = self._read(utt)
                feats = log_mel(torch.from_numpy(wave), self.features).numpy().astype(np.float16)
                shard.add(feats, ids)
                if stats is not None:
                    stats.add(feats)
                fs.write(f"{utt.audio}\n")
                ft.write(utt.text + "\n")
                seconds += len(wave) / self.features.rate
                longest = [max(longest[0], len(feats)), max(longest[1], len(ids))]
                unk += ids.count(UNK_ID)
        if self.name == "train" and shard.utterances == 0:
            raise DataError(
                f"every training transcript is longer than prepare.max_len {self.limit}"
            )
        if too_long:
            log.warning(f"{self.name}: dropped {too_long:,} utterances with more than {self.limit} "
                        "target tokens (prepare.max_len; counted in the manifest as too_long)")  # fmt: skip
        n, tokens = shard.utterances, shard.tgt_tokens
        return {
            "src": src_file,
            "tgt": tgt_file,
            "lines_read": len(utterances),
            "pairs": n,
            "too_long": too_long,
            "seconds": round(seconds, 2),
            "feats": shard.info(),
            "src_tokens": shard.frames,  # frames, 100 a second at a 10 ms hop
            "src_len_mean": round(shard.frames / n, 3) if n else 0.0,
            "src_len_max": longest[0],
            "src_oov_rate": 0.0,
            "tgt_tokens": tokens,
            "tgt_len_mean": round(tokens / n, 3) if n else 0.0,
            "tgt_len_max": longest[1],
            "tgt_oov_rate": round(unk / tokens, 6) if tokens else 0.0,
        }

    def _read(self, utt: Utterance) -> np.ndarray:
        try:
            return read_audio(
                utt.audio, self.features.rate, self.audio.strict_rate, self.audio.max_seconds
            )
        except AudioError as err:
            raise AudioError(f"{utt.where}: {err}") from None


def _manifest(source: AudioSource, tgt_vocab: Vocab, splits, opts, audio) -> dict[str, Any]:
    kind = opts.vocab_kinds[1]
    return {
        "format": FORMAT,
        "version": VERSION,
        "task": "speech",
        "src_lang": None,
        "tgt_lang": opts.tgt_lang,
        "source": source.to_dict(),
        "vocab": {
            "kind": f"audio/{kind}",
            "src_kind": "audio",
            "tgt_kind": kind,
            "joint": False,
            "lowercase": opts.lowercase,
            "split_punct": opts.split_punct,
            "src_size": source.dim,  # features per frame
            "tgt_size": len(tgt_vocab),
            "requested_tgt_size": opts.vocab_sizes[1],
            "src_file": SOURCE_FILE,
            "tgt_file": "tgt.vocab.json",
        },
        "max_len": opts.max_len,
        "empty_lines": opts.empty_lines,
        "settings": opts.model_dump(mode="json"),
        "audio": audio.model_dump(mode="json"),
        "splits": splits,
    }


def summary_table(manifest: dict[str, Any]) -> str:
    """A plain-text table of a speech manifest's numbers, one row per split."""
    v, f = manifest["vocab"], manifest["source"]["features"]
    head = (
        f"speech: {f['n_mels']} log-mel bands every {f['hop_ms']:g} ms at {f['rate']} Hz; "
        f"{v['tgt_kind']} targets, {v['tgt_size']:,} entries"
    )
    cols = ["split", "utterances", "hours", "empty", "too long", "frames", "tgt len", "tgt OOV"]
    rows = [cols]
    for name, s in manifest["splits"].items():
        rows.append([
            name, f"{s['pairs']:,}", f"{s['seconds'] / 3600:.2f}", f"{s['empty']:,}",
            f"{s['too_long']:,}", f"{s['src_len_mean']:.0f} / {s['src_len_max']}",
            f"{s['tgt_len_mean']:.1f} / {s['tgt_len_max']}", f"{100 * s['tgt_oov_rate']:.2f}%",
        ])  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([head, *lines, "(frames and target tokens: mean / max)"])
