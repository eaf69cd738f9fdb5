"""Looking inside a trained model: sentence vectors (paper Fig. 2) and attention weights.

Sentence vectors are the encoder's final hidden state, the fixed-size v the decoder starts from
(Sutskever et al. 2014, §2): the top layer's h, both directions concatenated when the encoder is
bidirectional. Sources go through the same path as translation: the checkpoint's vocabulary,
reversed when it was trained so (§3.3), padded by `make_source_batch`, read by `model.encode`.

Attention weights come from a translation of one sentence by a model with ``context:
attention``; the model reads the source reversed, so its columns are turned back to reading order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seq2seq.errors import ConfigError, DataError


@dataclass
class Phrase:
    group: str
    text: str
    line: int  # 1-based line of the phrases file


def default_phrases_path() -> Path:
    """The phrase groups shipped with the package (word order, voice, meaning)."""
    return Path(str(resources.files("seq2seq") / "resources" / "phrases.txt"))


def read_phrases(path: str | Path) -> list[Phrase]:
    """Lines ``group<TAB>phrase``; blank lines and lines starting with '#' are skipped."""
    from seq2seq.evaluate.scores import read_lines

    phrases = []
    for lineno, line in enumerate(read_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        group, tab, text = line.partition("\t")
        if not tab or not group.strip() or not text.strip():
            raise DataError(f"{path}:{lineno}: expected 'group<TAB>phrase', got {line[:60]!r}")
        phrases.append(Phrase(group.strip(), text.strip(), lineno))
    if len(phrases) < 3:
        raise DataError(f"{path} holds {len(phrases)} phrases; a 2-D projection needs at least 3")
    return phrases


@torch.no_grad()
def sentence_vectors(translator: Any, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """The encoder's final top-layer hidden state of each sentence: (N, H_enc) float64."""
    from seq2seq.data.batching import make_source_batch

    model = translator.model
    if not hasattr(model, "encoder"):
        raise ConfigError("sentence vectors need a single checkpoint, not an ensemble")
    ids = translator.src_vocab.encode_batch(list(sentences))
    for i, row in enumerate(ids):
        if not row:
            raise DataError(f"sentence {i + 1} ({sentences[i]!r}) has no tokens to encode")
    vectors = []
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        src, lengths = make_source_batch(
            chunk, translator.src_vocab.pad_id, translator.reverse_source
        )
        encoded = model.encode(src.to(translator.device), lengths.to(translator.device))
        vectors.append(encoded.h[-1].double().cpu())  # (B, H_enc): top layer, directions joined
    return torch.cat(vectors).numpy()


@dataclass
class AttentionMap:
    """Attention weights of one translation, source in reading order."""

    source_tokens: list[str]  # (S,) as the vocabulary tokenises the sentence
    output_tokens: list[str]  # (T,) the translation's tokens, end-of-sentence last
    weights: np.ndarray  # (T, S); each row sums to 1
    translation: str


def attention_map(translator: Any, sentence: str, beam_size: int | None = None) -> AttentionMap:
    """Translate `sentence` and return where each output token attended."""
    if not translator.has_attention:
        context = translator.config.model.context
        raise ConfigError(
            f"checkpoint {translator.names[0]} has model.context='{context}' and no attention; "
            "the attention analysis needs a model trained with context 'attention'"
        )
    settings = translator.settings(beam_size=beam_size, n_best=1)
    result = translator.translate_hypotheses([sentence], settings, attention=True)[0]
    if not result or result[0].attention is None:
        raise DataError(f"the sentence {sentence[:60]!r} could not be translated with attention")
    best = result[0]
    weights = best.attention.float().cpu().numpy()  # (T, S) in the model's reading order
    if translator.reverse_source:  # the encoder read the words last to first (paper §3.3)
        weights = weights[:, ::-1]
    source_tokens = translator.src_vocab.tokenize(sentence)
    if len(source_tokens) != weights.shape[1]:
        raise DataError(
            f"the sentence tokenises into {len(source_tokens)} tokens but the model attended over "
            f"{weights.shape[1]} positions"
        )
    tgt = translator.tgt_vocab
    output_tokens = [tgt.id_to_token(t) for t in best.tokens] + [tgt.id_to_token(tgt.eos_id)]
    return AttentionMap(source_tokens, output_tokens, np.ascontiguousarray(weights), best.text)
