"""Translator: an exported folder in, text out, with the search of seq2seq's Translator.

Lines are encoded with the source vocabulary, reversed when the model was trained so (paper
§3.3), sorted longest first so that each batch pads little, searched, restored to input order
and detokenised. An empty line, or one longer than `max_src_len` tokens, gets an empty output
and a warning, never a crash or a shifted line. With `replace_unk`, each <unk> of an output
becomes the source word its attention points at (Luong et al. 2015).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq_runtime.errors import ModelDirError, SettingsError
from seq2seq_runtime.model import OnnxModel
from seq2seq_runtime.search import (
    Hypothesis,
    SearchSettings,
    max_output_lengths,
    search,
    settings_from,
)
from seq2seq_runtime.vocab import SentencePiece, load_vocab

FORMAT_VERSION = 1
DEFAULT_MAX_SRC_LEN = 400
log = logging.getLogger(__name__)


@dataclass
class Translation:
    text: str
    tokens: list[int]
    log_prob: float
    score: float
    features: dict[str, float] = field(default_factory=dict)
    attention: np.ndarray | None = None  # (len(tokens) + 1, src_len), model order


@dataclass
class SourceLine:
    number: int  # 1-based
    text: str
    ids: list[int]
    skipped: str | None = None


@dataclass
class Alignment:
    source_tokens: list[str]
    target_tokens: list[str]
    weights: list[list[float]]


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise ModelDirError(f"{folder} holds no manifest.json; is it a `seq2seq export` folder?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelDirError(f"{path} is not readable JSON ({err})") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelDirError(
            f"{path} has format version {manifest.get('format_version')!r}; this runtime reads "
            f"version {FORMAT_VERSION} (re-export with a matching seq2seq)"
        )
    return manifest


class Translator:
    """Translate lines of text with an exported model (one or an ensemble)."""

    def __init__(self, folder: str | Path, threads: int | None = None,
                 max_src_len: int = DEFAULT_MAX_SRC_LEN) -> None:  # fmt: skip
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.model = OnnxModel(self.folder, self.manifest["members"], threads)
        self.src_vocab = load_vocab(self.folder, self.manifest["source_vocab"])
        self.tgt_vocab = load_vocab(self.folder, self.manifest["target_vocab"])
        self.reverse_source = bool(self.manifest["reverse_source"])
        self.max_src_len = max_src_len
        self.names = list(self.manifest.get("checkpoints", []))
        self.src_lang = self.manifest.get("source_lang")
        self.tgt_lang = self.manifest.get("target_lang")
        self.task = self.manifest.get("task", "translation")
        decode = self.manifest.get("decode", {})
        self.defaults = SearchSettings(
            **{k: v for k, v in decode.items() if k in SearchSettings.known()}
        )
        self.warn: Callable[[str], None] = log.warning

    @classmethod
    def from_dir(cls, folder: str | Path, **kwargs: Any) -> Translator:
        return cls(folder, **kwargs)

    @property
    def has_attention(self) -> bool:
        return self.model.has_attention

    def settings(self, base: SearchSettings | None = None, **overrides: Any) -> SearchSettings:
        """The exported decode defaults (or `base`) with the given keys replaced, checked."""
        return settings_from(base or self.defaults, overrides)

    def translate(
        self, lines: Sequence[str], settings: SearchSettings | None = None, **overrides: Any
    ) -> list[str] | list[list[str]]:
        """One string per line, or (n_best > 1) a list of n_best strings per line."""
        settings = self.settings(settings, **overrides)
        results = self.translate_hypotheses(lines, settings)
        if settings.n_best == 1:
            return [hyps[0].text if hyps else "" for hyps in results]
        return [[h.text for h in hyps] for hyps in results]

    def translate_hypotheses(
        self,
        lines: Sequence[str],
        settings: SearchSettings | None = None,
        first_line: int = 1,
        progress: Callable[[int], Any] | None = None,
        attention: bool = False,
    ) -> list[list[Translation]]:
        """The n-best `Translation`s of every line, in input order ([] for a skipped line)."""
        sources = self.screen(lines, first_line)
        for source in sources:
            if source.skipped is not None:
                self.warn(source.skipped)
        return self.translate_sources(sources, settings, progress, attention)

    def screen(self, lines: Sequence[str], first_line: int = 1) -> list[SourceLine]:
        """Each line tokenised once; empty and over-long ones marked `skipped`, with the reason."""
        sources = []
        for i, (line, ids) in enumerate(zip(lines, self.src_vocab.encode_batch(list(lines)))):
            number, skipped = first_line + i, None
            if not ids:
                skipped = f"input line {number} is empty; its output is empty"
            elif len(ids) > self.max_src_len:
                skipped = (
                    f"input line {number} has {len(ids)} tokens, more than the maximum source "
                    f"length {self.max_src_len}; its output is empty"
                )
            sources.append(SourceLine(number, line, ids, skipped))
        return sources

    def check_min_len(self, sources: Sequence[SourceLine], settings: SearchSettings) -> None:
        """Refuse a `min_len` above the length cap of a line to be read (one sentence)."""
        if settings.min_len == 0:
            return
        for source in sources:
            if source.skipped is not None:
                continue
            length = np.array([len(source.ids)])
            cap = int(
                max_output_lengths(length, settings.max_len_ratio, settings.max_len_offset)[0]
            )
            if settings.min_len > cap:
                raise SettingsError(
                    f"min_len={settings.min_len} is more than the {cap} output tokens the length "
                    f"cap allows input line {source.number} ({len(source.ids)} source tokens, "
                    f"max_len_ratio={settings.max_len_ratio}, "
                    f"max_len_offset={settings.max_len_offset})"
                )

    def translate_sources(
        self,
        sources: Sequence[SourceLine],
        settings: SearchSettings | None = None,
        progress: Callable[[int], Any] | None = None,
        attention: bool = False,
    ) -> list[list[Translation]]:
        """`translate_hypotheses` over lines already screened; skipped ones get []."""
        settings = settings or self.defaults
        if settings.replace_unk and not self.has_attention:
            raise SettingsError("replace_unk needs a model with attention; this one has none")
        self.check_min_len(sources, settings)
        read = [i for i, source in enumerate(sources) if source.skipped is None]
        order = sorted(read, key=lambda i: -len(sources[i].ids))  # longest first: little padding
        results: list[list[Translation]] = [[] for _ in sources]
        if progress is not None and len(sources) > len(order):
            progress(len(sources) - len(order))
        keep_attention = attention or settings.replace_unk
        for start in range(0, len(order), settings.batch_size):
            rows = order[start : start + settings.batch_size]
            src, lengths = self._batch([sources[i].ids for i in rows])
            hyps = search(self.model, src, lengths, settings, keep_attention)
            for row, row_hyps in zip(rows, hyps, strict=True):
                results[row] = [
                    self._translation(h, sources[row].text, settings.replace_unk, attention)
                    for h in row_hyps
                ]
            if progress is not None:
                progress(len(rows))
        return results

    def alignment(self, text: str, translation: Any) -> Alignment | None:
        """The attention of `translation` in reading order with its tokens; None without it."""
        weights = translation.attention
        if weights is None:
            return None
        weights = np.asarray(weights, dtype=np.float64)
        if self.reverse_source:
            weights = weights[:, ::-1]
        source = self.src_vocab.tokenize(text)
        if len(source) != weights.shape[1]:
            source = [self.src_vocab.id_to_token(i) for i in self.src_vocab.encode(text)]
        target = [self.tgt_vocab.id_to_token(i) for i in translation.tokens]
        target.append(self.tgt_vocab.id_to_token(self.tgt_vocab.eos_id))
        return Alignment(source, target, weights.tolist())

    def _batch(self, id_lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.array([len(ids) for ids in id_lists], dtype=np.int64)
        src = np.zeros((len(id_lists), int(lengths.max())), dtype=np.int64)
        for row, ids in enumerate(id_lists):
            src[row, : len(ids)] = ids[::-1] if self.reverse_source else ids
        return src, lengths

    def _translation(
        self, hyp: Hypothesis, line: str, replace_unk: bool, attention: bool
    ) -> Translation:
        if replace_unk and self.tgt_vocab.unk_id in hyp.tokens and hyp.attention is not None:
            text = self._replace_unk(hyp.tokens, hyp.attention, self.src_vocab.tokenize(line))
        else:
            text = self.tgt_vocab.decode(hyp.tokens)
        weights = hyp.attention if attention else None
        features = {"logprob": hyp.log_prob}
        return Translation(text, hyp.tokens, hyp.log_prob, hyp.score, features, weights)

    def _replace_unk(self, tokens: list[int], weights: np.ndarray, src_words: list[str]) -> str:
        vocab = self.tgt_vocab
        if not isinstance(vocab, SentencePiece):
            return vocab.detokenize(
                self._aligned_word(weights[t], src_words)
                if token == vocab.unk_id
                else vocab.id_to_token(token)
                for t, token in enumerate(tokens)
            )
        parts: list[str] = []
        run: list[int] = []
        for t, token in enumerate(tokens):
            if token != vocab.unk_id:
                run.append(token)
                continue
            if run:
                parts.append(vocab.decode(run))
                run = []
            parts.append(self._aligned_word(weights[t], src_words))
        if run:
            parts.append(vocab.decode(run))
        return " ".join(p for p in parts if p)

    def _aligned_word(self, weights: np.ndarray, src_words: list[str]) -> str:
        position = int(np.argmax(weights))
        if len(src_words) != weights.size:
            return self.tgt_vocab.decode([self.tgt_vocab.unk_id])
        if self.reverse_source:
            position = len(src_words) - 1 - position
        return src_words[position].lstrip("\u2581") or src_words[position]
