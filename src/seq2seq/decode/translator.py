"""Translator: checkpoint(s) in, text out; the decoding API under translate, evaluate, chat, serve.

A `Translator` holds a model (or an `Ensemble` of several, paper §3.6), its vocabularies and its
config. `translate` encodes lines with the source vocabulary, reverses them when the checkpoint
was trained so (``data.reverse_source``, paper §3.3), sorts them by length so that each batch
pads little, searches (greedy for a beam of one, batched beam search otherwise, §3.2; or samples
with ``sampling``, each line from its own generator seeded by ``seed`` and its number), restores
the input order and detokenises with the target vocabulary. An empty line, or one longer than
``max_src_len`` tokens, gets an empty output and a warning on stderr: never a crash or a shifted
line. `screen` is that check on its own (the server screens a request once, as it arrives, and
hands the screened lines to `translate_sources`: each line is tokenised once).

Attention weights are collected only when asked (``attention=True``) or when ``replace_unk``
needs them; `alignment` gives them in reading order with the tokens they stand for.

A copy model (``model.copy``, model/copy.py) gets each line's map into its extended vocabulary
(data/copymap.py); an output id >= V is the source word it copies, and ``replace_unk`` replaces
only the <unk> tokens that remain.

In Python::

    translator = Translator.load("best.safetensors")             # or several paths: an ensemble
    translator.translate(["A man rides a bike."], beam_size=5)    # any DecodeConfig key
    translator.translate(lines, sampling=True, temperature=0.7, seed=1)  # sampled, repeatable
    settings = translator.settings(beam_size=12, n_best=5)        # validated DecodeConfig
    translator.translate_hypotheses(lines, settings)              # Translation objects, scores
    translator.translate_hypotheses(lines, settings, attention=True)  # ... with attention rows
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from seq2seq.checkpoint import read_languages, read_shortlist
from seq2seq.config import DEFAULT_MAX_SRC_LEN, SAMPLING_ONLY, Config, DecodeConfig
from seq2seq.data.batching import make_source_batch
from seq2seq.data.copymap import copy_ids, decode_extended, token_index
from seq2seq.data.shortlist import Shortlist
from seq2seq.data.vocab import CharVocab, WordVocab
from seq2seq.decode.ensemble import Ensemble, load_ensemble
from seq2seq.decode.nbest import NBestEntry, format_features
from seq2seq.decode.search import Hypothesis, max_output_lengths, search
from seq2seq.errors import ConfigError, DataError
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.precision import Precision, autocast, resolve
from seq2seq.runtime import resolve_device
from seq2seq.scoring import score_pairs

log = logging.getLogger(__name__)


@dataclass
class Translation:
    """One output of a translated line."""

    text: str
    tokens: list[int]  # target ids, without BOS/EOS
    log_prob: float  # total log-probability, EOS included
    score: float  # the length-normalised score the search ranked by
    features: dict[str, float] = field(default_factory=dict)  # for n-best lists
    # (len(tokens) + 1, src_len) in the model's (reversed) order; only when asked (attention=True)
    attention: torch.Tensor | None = None
    copied: list[str] = field(default_factory=list)  # copy models: the strings of ids V, V+1, ...


@dataclass
class SourceLine:
    """One input line as the model reads it: its source ids, or why it is not read."""

    number: int  # 1-based, as warnings and errors name it
    text: str
    ids: list[int]  # source ids in reading order ([] for an empty line)
    skipped: str | None = None  # one sentence: why the model does not read it (output empty)


@dataclass
class Alignment:
    """Where each output token attended, in reading order (rows sum to 1)."""

    source_tokens: list[str]
    target_tokens: list[str]  # the output's tokens, then EOS
    weights: list[list[float]]  # (len(target_tokens), len(source_tokens))


class Translator:
    """Translate lines of text with one model or an ensemble loaded from checkpoints."""

    def __init__(
        self,
        model: Seq2Seq | Ensemble,
        configs: Sequence[Config],
        src_vocab: Any,
        tgt_vocab: Any,
        device: str | torch.device = "cpu",
        max_src_len: int = DEFAULT_MAX_SRC_LEN,
        names: Sequence[str] | None = None,
        shortlist: Shortlist | None = None,
        languages: tuple[str | None, str | None] = (None, None),
    ) -> None:
        self.model = model.eval()
        self.shortlist = shortlist
        self.configs = list(configs)
        self.config = self.configs[0]
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.device = torch.device(device)
        self.max_src_len = max_src_len
        self.names = list(names or [f"model{i}" for i in range(len(self.configs))])
        self.reverse_source = self.config.data.reverse_source
        self.src_lang, self.tgt_lang = languages  # e.g. ("en", "fr"); None when unknown
        self._bf16_model: Seq2Seq | Ensemble | None = None  # made on first use of bf16 search
        self.copies = any(
            getattr(m, "copy", None) is not None for m in self.model.members
        )  # model.copy
        self._tgt_index: dict[str, int] | None = None  # target token -> id, for copy maps
        self.warn: Callable[[str], None] = log.warning

    @classmethod
    def load(
        cls,
        paths: str | Path | Sequence[str | Path],
        device: str | torch.device = "cpu",
        max_src_len: int = DEFAULT_MAX_SRC_LEN,
    ) -> Translator:
        """One checkpoint path, or a list of them for an ensemble (same vocabularies)."""
        paths = [paths] if isinstance(paths, str | Path) else list(paths)
        device = resolve_device(device) if isinstance(device, str) else device
        model, configs, src_vocab, tgt_vocab = load_ensemble(paths, device=device)
        # Members share the target vocabulary: the first shortlist found serves them all.
        shortlist = next(filter(None, (read_shortlist(p) for p in paths)), None)
        names = [str(p) for p in paths]
        languages = read_languages(paths[0])
        return cls(
            model, configs, src_vocab, tgt_vocab, device, max_src_len, names, shortlist, languages
        )

    @property
    def has_attention(self) -> bool:
        return any(c.model.context == "attention" for c in self.configs)

    def settings(self, base: DecodeConfig | None = None, **overrides: Any) -> DecodeConfig:
        """The checkpoint's decode section (or `base`) with the given (non-None) keys replaced,
        validated.

        Asking for more hypotheses (`n_best`) than the checkpoint's beam holds widens the beam;
        asking for sampling without a beam size searches with a beam of one (sampling draws
        `n_best` samples instead), and asking for a beam without saying `sampling` turns off
        a checkpoint's sampling.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        merged = {**(base or self.config.decode).model_dump(), **given}
        if "sampling" not in given and given.get("beam_size", 1) > 1 and merged["sampling"]:
            # a beam asked for wins over the default sampling, and over its temperature & co.
            merged.update({k: v for k, v in SAMPLING_ONLY.items() if k not in given})
            merged["sampling"] = False
        if "beam_size" not in given:
            if merged["sampling"]:
                merged["beam_size"] = 1
            elif merged["n_best"] > merged["beam_size"]:
                merged["beam_size"] = merged["n_best"]
        try:
            return DecodeConfig.model_validate(merged)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            if not key:
                raise ConfigError(f"decode settings: {message}") from None
            raise ConfigError(
                f"decode setting 'decode.{key}': {message[0].lower() + message[1:]} "
                f"(got {first.get('input')!r})"
            ) from None

    # --- translating ----------------------------------------------------------------------------

    def translate(
        self, lines: Sequence[str], settings: DecodeConfig | None = None, **overrides: Any
    ) -> list[str] | list[list[str]]:
        """Translate `lines`; one string per line, or (n_best > 1) a list of n_best strings.

        `overrides` are `DecodeConfig` keys (beam_size=5, n_best=3, ...); settings left out come
        from `settings`, or else from the checkpoint's ``decode`` config section.
        """
        if settings is not None:
            overrides = {**settings.model_dump(), **overrides}
        settings = self.settings(**overrides)
        results = self.translate_hypotheses(lines, settings)
        if settings.n_best == 1:
            return [hyps[0].text if hyps else "" for hyps in results]
        return [[h.text for h in hyps] for hyps in results]

    def translate_hypotheses(
        self,
        lines: Sequence[str],
        settings: DecodeConfig | None = None,
        features: bool = False,
        first_line: int = 1,
        progress: Callable[[int], Any] | None = None,
        attention: bool = False,
    ) -> list[list[Translation]]:
        """The n-best `Translation`s of every line, in input order ([] for a skipped line).

        `first_line` numbers the lines in warnings; `progress(n)` is called as batches finish;
        `attention` keeps each output's attention rows (`Translation.attention`).
        """
        sources = self.screen(lines, first_line)
        for source in sources:
            if source.skipped is not None:
                self.warn(source.skipped)
        return self.translate_sources(sources, settings, features, progress, attention)

    def screen(self, lines: Sequence[str], first_line: int = 1) -> list[SourceLine]:
        """Each line tokenised once; empty and over-long ones marked `skipped`, with the reason."""
        if not hasattr(self.src_vocab, "encode_batch"):  # an AudioSource: a speech model
            raise ConfigError(
                f"checkpoint {self.names[0]} is a speech model (its source is audio), not a "
                "translator of text; use `seq2seq transcribe` or decode/transcriber.py"
            )
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

    def check_min_len(self, sources: Sequence[SourceLine], settings: DecodeConfig) -> None:
        """Refuse a `min_len` above the length cap of a line to be read (one sentence)."""
        if settings.min_len == 0:
            return
        for source in sources:
            if source.skipped is not None:
                continue
            length = torch.tensor([len(source.ids)])
            cap = int(max_output_lengths(length, settings.max_len_ratio, settings.max_len_offset))
            if settings.min_len > cap:
                raise ConfigError(
                    f"decode.min_len={settings.min_len} is more than the {cap} output tokens "
                    f"the length cap allows input line {source.number} ({len(source.ids)} "
                    f"source tokens, decode.max_len_ratio={settings.max_len_ratio}, "
                    f"decode.max_len_offset={settings.max_len_offset})"
                )

    @torch.inference_mode()
    def translate_sources(
        self,
        sources: Sequence[SourceLine],
        settings: DecodeConfig | None = None,
        features: bool = False,
        progress: Callable[[int], Any] | None = None,
        attention: bool = False,
    ) -> list[list[Translation]]:
        """`translate_hypotheses` over lines already screened (`screen`); skipped ones get []."""
        settings = settings or self.settings()
        if settings.replace_unk and not self.has_attention:
            raise ConfigError(
                f"--replace-unk needs a model with attention, but {self.names[0]} has "
                f"model.context='{self.config.model.context}'"
            )
        if settings.shortlist and self.copies:
            raise ConfigError(
                f"decode.shortlist cuts the output layer, which {self.names[0]}'s model.copy "
                "needs whole; search without --shortlist"
            )
        if settings.ctc_weight > 0:
            raise ConfigError(
                f"decode.ctc_weight mixes a speech model's CTC head into its search; "
                f"{self.names[0]} reads text (leave --ctc-weight out)"
            )
        self.check_min_len(sources, settings)
        read = [i for i, source in enumerate(sources) if source.skipped is None]
        order = sorted(read, key=lambda i: -len(sources[i].ids))  # longest first: little padding
        results: list[list[Translation]] = [[] for _ in sources]
        if progress is not None and len(sources) > len(order):
            progress(len(sources) - len(order))
        keep_attention = attention or settings.replace_unk
        for start in range(0, len(order), settings.batch_size):
            rows = order[start : start + settings.batch_size]
            id_lists = [sources[i].ids for i in rows]
            numbers = [sources[i].number for i in rows]
            maps, extras = self.copy_maps([sources[i].text for i in rows])
            hyps = self._search(id_lists, settings, keep_attention, numbers, maps)
            for row, row_hyps, extra in zip(rows, hyps, extras, strict=True):
                results[row] = [
                    self._translation(h, sources[row].text, settings.replace_unk, attention, extra)
                    for h in row_hyps
                ]
            if features:
                self._add_features(id_lists, [results[i] for i in rows], maps)
            if progress is not None:
                progress(len(rows))
        return results

    def alignment(self, text: str, translation: Translation) -> Alignment | None:
        """The attention of `translation` (of the line `text`) in reading order, with its tokens;
        None when it carries none (a model without attention, or attention not asked for)."""
        weights = translation.attention  # (len(tokens) + 1, src_len), model order
        if weights is None:
            return None
        if self.reverse_source:  # the encoder read the tokens last to first (paper §3.3)
            weights = weights.flip(-1)
        source = self.src_vocab.tokenize(text)
        if len(source) != weights.size(1):  # fall back to the vocabulary's view of the line
            source = [self.src_vocab.id_to_token(i) for i in self.src_vocab.encode(text)]
        size = len(self.tgt_vocab)
        target = [
            translation.copied[i - size] if i >= size else self.tgt_vocab.id_to_token(i)
            for i in translation.tokens
        ]
        target.append(self.tgt_vocab.id_to_token(self.tgt_vocab.eos_id))
        return Alignment(source, target, weights.float().tolist())

    def score(
        self, sources: Sequence[str], targets: Sequence[str], batch_size: int = 64
    ) -> list[float]:
        """log p(target <eos> | source) under the model (ensemble: mean of probabilities)."""
        src_ids, tgt_ids, maps = self.scoring_inputs(sources, targets)
        for i, ids in enumerate(src_ids):
            if not ids:
                raise DataError(f"source sentence {i + 1} is empty; it cannot be scored")
        with torch.inference_mode():
            return score_pairs(
                self.model, src_ids, tgt_ids, self.reverse_source, batch_size, self.device, maps
            )

    def scoring_inputs(
        self, sources: Sequence[str], targets: Sequence[str]
    ) -> tuple[list[list[int]], list[list[int]], list[list[int]] | None]:
        """(source ids, target ids, copy maps) for teacher-forced scoring: a copy model's
        targets in extended ids with its sources' maps (data/copymap.py), else maps None."""
        src_ids = self.src_vocab.encode_batch(list(sources))
        tgt_ids = self.tgt_vocab.encode_batch(list(targets))
        if not self.copies:
            return src_ids, tgt_ids, None
        index, size, maps = self._target_index(), len(self.tgt_vocab), []
        for i, (source, target) in enumerate(zip(sources, targets, strict=True)):
            src_map, tgt_ids[i], _ = copy_ids(
                self.src_vocab.tokenize(source), index, size,
                self.tgt_vocab.tokenize(target), tgt_ids[i],
            )  # fmt: skip
            maps.append(src_map)
        return src_ids, tgt_ids, maps

    def copy_maps(self, texts: Sequence[str]) -> tuple[list[list[int]] | None, list[list[str]]]:
        """A copy model's map of each line into its extended vocabulary, and the strings of the
        extra ids; (None, empty lists) for a model without copy."""
        if not self.copies:
            return None, [[] for _ in texts]
        index, size = self._target_index(), len(self.tgt_vocab)
        found = [copy_ids(self.src_vocab.tokenize(text), index, size) for text in texts]
        return [f[0] for f in found], [f[2] for f in found]

    def _target_index(self) -> dict[str, int]:
        if self._tgt_index is None:
            self._tgt_index = token_index(self.tgt_vocab)
        return self._tgt_index

    # --- the steps ------------------------------------------------------------------------------

    def _search(
        self,
        id_lists: list[list[int]],
        settings: DecodeConfig,
        attention: bool,
        numbers: list[int],
        maps: list[list[int]] | None = None,
    ) -> list[list[Hypothesis]]:
        """One batch searched; `numbers` (the lines' numbers) choose sampling's random streams;
        `maps` are a copy model's (`copy_maps`)."""
        src, lengths = make_source_batch(id_lists, self.src_vocab.pad_id, self.reverse_source)
        src, lengths = src.to(self.device), lengths.to(self.device)
        candidates = self._candidates(src) if settings.shortlist else None
        model = self._model_for(settings.precision)
        with autocast(settings.precision, self.device):
            if maps is None:
                return search(model, src, lengths, settings, candidates, attention, numbers)
            src_map, _ = make_source_batch(maps, self.src_vocab.pad_id, self.reverse_source)
            return search(
                model, src, lengths, settings, candidates, attention, numbers, src_map.to(src)
            )

    def _candidates(self, src: torch.Tensor) -> torch.Tensor:
        """The target ids this batch may produce: its lexical shortlist (data/shortlist.py)."""
        if self.shortlist is None:
            raise ConfigError(
                f"checkpoint {self.names[0]} has no lexical shortlist; add one with "
                f"`seq2seq shortlist --checkpoint {self.names[0]}` or search without --shortlist"
            )
        return self.shortlist.candidates(src)

    def _model_for(self, precision: Precision) -> Seq2Seq | Ensemble:
        """The model in the search's arithmetic.

        For bf16, a bfloat16 copy of the weights made once: autocast alone would cast every
        weight again at every step (its cache holds only under autograd; docs/results.md,
        "Decoding speed"). Autocast still runs the log-softmax in float32.
        """
        if resolve(precision, self.device) != "bf16":
            return self.model
        if self._bf16_model is None:
            self._bf16_model = copy.deepcopy(self.model).to(torch.bfloat16).eval()
        return self._bf16_model

    def _translation(
        self,
        hyp: Hypothesis,
        line: str,
        replace_unk: bool,
        attention: bool,
        copied: list[str] | None = None,
    ) -> Translation:
        """`hyp` as text; its attention rows kept only when the caller asked for them. `copied`
        are the strings of a copy model's extra ids (`copy_maps`)."""
        copied = copied or []
        if replace_unk and self.tgt_vocab.unk_id in hyp.tokens and hyp.attention is not None:
            src_words = self.src_vocab.tokenize(line)
            text = self._replace_unk(hyp.tokens, hyp.attention, src_words, copied)
        else:
            text = decode_extended(self.tgt_vocab, hyp.tokens, copied)
        features = {"logprob": hyp.log_prob}
        weights = hyp.attention if attention else None
        return Translation(text, hyp.tokens, hyp.log_prob, hyp.score, features, weights, copied)

    def _replace_unk(
        self, tokens: list[int], weights: torch.Tensor, src_words: list[str], copied: list[str]
    ) -> str:
        """Each <unk> becomes the source word its attention weight points at (Luong et al. 2015);
        a copy model's copied ids (>= V) are their source words already."""
        vocab, size = self.tgt_vocab, len(self.tgt_vocab)
        if isinstance(vocab, WordVocab | CharVocab):  # token by token, then its detokenisation
            return vocab.detokenize(
                self._aligned_word(weights[t], src_words)
                if token == vocab.unk_id
                else copied[token - size]
                if token >= size
                else vocab.id_to_token(token)
                for t, token in enumerate(tokens)
            )
        parts: list[str] = []
        run: list[int] = []
        for t, token in enumerate(tokens):
            if token != self.tgt_vocab.unk_id and token < size:
                run.append(token)
                continue
            if run:
                parts.append(self.tgt_vocab.decode(run))
                run = []
            word = copied[token - size] if token >= size else None
            parts.append(word or self._aligned_word(weights[t], src_words))
        if run:
            parts.append(self.tgt_vocab.decode(run))
        return " ".join(p for p in parts if p)

    def _aligned_word(self, weights: torch.Tensor, src_words: list[str]) -> str:
        """weights (src_len,) over the model's input order -> the original source word."""
        position = int(weights.argmax())
        if len(src_words) != weights.numel():  # tokenisation disagrees: keep <unk> visible
            return self.tgt_vocab.decode([self.tgt_vocab.unk_id])
        if self.reverse_source:  # the model read the words last to first (paper §3.3)
            position = len(src_words) - 1 - position
        return src_words[position].lstrip("\u2581") or src_words[position]

    def _add_features(
        self,
        id_lists: list[list[int]],
        results: list[list[Translation]],
        maps: list[list[int]] | None = None,
    ) -> None:
        """Per-member log-probabilities (model0=, model1=, ...) of an ensemble's hypotheses;
        `maps`: a copy ensemble's maps of the sources (`copy_maps`)."""
        if len(self.model.members) == 1:
            return
        flat = [(ids, t) for ids, hyps in zip(id_lists, results, strict=True) for t in hyps]
        src = [ids for ids, _ in flat]
        tgt = [t.tokens for _, t in flat]
        flat_maps = None
        if maps is not None:
            flat_maps = [m for m, hyps in zip(maps, results, strict=True) for _ in hyps]
        per_member = [
            score_pairs(m, src, tgt, self.reverse_source, len(flat), self.device, flat_maps)
            for m in self.model.members
        ]
        for k, (_, translation) in enumerate(flat):
            features = {f"model{m}": scores[k] for m, scores in enumerate(per_member)}
            translation.features = {**features, "logprob": translation.log_prob}


def format_nbest(sentence: int, translation: Translation) -> str:
    """One Moses n-best line: ``id ||| text ||| features ||| score``."""
    entry = NBestEntry(
        sentence, translation.text, format_features(translation.features), translation.score
    )
    return entry.format()
