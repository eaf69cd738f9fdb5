"""Scores of a test set: sacreBLEU's BLEU and chrF, and the model's perplexity of the references.

BLEU is the paper's metric (Sutskever et al. 2014, §3.6, "cased BLEU"); it and chrF come from
sacreBLEU, never from a home-made n-gram counter, and each comes with its signature so a number can
be reproduced. Perplexity is the teacher-forced per-token perplexity of the reference translations,
end-of-sentence token included (the paper's test perplexity, §3.3), computed through the same
`SequenceLoss` that training optimises, with the checkpoint's vocabularies and source order.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sacrebleu
import torch

from seq2seq.errors import DataError
from seq2seq.scoring import target_log_probs

log = logging.getLogger(__name__)


def read_lines(path: str | Path) -> list[str]:
    """Every line of a plain or .gz UTF-8 text file, without line breaks."""
    from seq2seq.data.io import iter_lines

    return list(iter_lines(path))


def check_aligned(files: dict[str, Sequence[str]]) -> None:
    """DataError unless every named list of lines (name = file path) has the same length."""
    items = list(files.items())
    first_name, first = items[0]
    for name, lines in items[1:]:
        if len(lines) != len(first):
            raise DataError(
                f"{name} has {len(lines)} lines but {first_name} has {len(first)}; "
                "they must be aligned line by line"
            )


# ---------------------------------------------------------------------------------------------
# sacreBLEU


@dataclass
class CorpusScores:
    """Corpus-level scores of one hypothesis list against one reference list."""

    bleu: float
    bleu_signature: str
    bleu_text: str  # sacreBLEU's own line: "BLEU = 31.42 62.1/37.4/24.3/16.0 (BP = ...)"
    chrf: float
    chrf_signature: str
    sentences: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], lowercase: bool = False):
    """sacreBLEU's corpus BLEU (a `BLEUScore`) with one reference per line, default 13a tokens."""
    return sacrebleu.corpus_bleu(list(hypotheses), [list(references)], lowercase=lowercase)


def corpus_scores(
    hypotheses: Sequence[str], references: Sequence[str], lowercase: bool = False
) -> CorpusScores:
    """BLEU and chrF of aligned hypotheses and references, with their sacreBLEU signatures."""
    hyps, refs = list(hypotheses), [list(references)]
    bleu = sacrebleu.metrics.BLEU(lowercase=lowercase)
    chrf = sacrebleu.metrics.CHRF(lowercase=lowercase)
    bleu_score = bleu.corpus_score(hyps, refs)
    chrf_score = chrf.corpus_score(hyps, refs)
    return CorpusScores(
        bleu=bleu_score.score,
        bleu_signature=str(bleu.get_signature()),
        bleu_text=bleu_score.format(),
        chrf=chrf_score.score,
        chrf_signature=str(chrf.get_signature()),
        sentences=len(hyps),
    )


# ---------------------------------------------------------------------------------------------
# BLEU as the Multi30k literature counts it


@dataclass
class TokenizedBleu:
    """BLEU of Moses-tokenised, lower-cased hypotheses against an official tokenised reference."""

    bleu: float
    signature: str
    text: str
    lang: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def moses_tokenizer(lang: str):
    """A function: detokenised line -> the Multi30k references' form of it: Moses punctuation
    normalisation, Moses tokenisation for `lang` with Moses' escaping (``l&apos; herbe``), lower
    case. `sacremoses` is the Python port of the Moses scripts."""
    from sacremoses import MosesPunctNormalizer, MosesTokenizer

    normalizer, tokenizer = MosesPunctNormalizer(lang=lang), MosesTokenizer(lang=lang)

    def tokenize(line: str) -> str:
        normal = normalizer.normalize(line)
        return tokenizer.tokenize(normal, escape=True, return_str=True).lower()

    return tokenize


def tokenized_bleu(
    hypotheses: Sequence[str], tokenized_references: Sequence[str], lang: str
) -> TokenizedBleu:
    """BLEU as the Multi30k papers report it (multi-bleu.perl / MultEval on lc.norm.tok files).

    The hypotheses are normalised, tokenised and lower-cased like the official references
    (`moses_tokenizer`), then counted on those tokens: sacreBLEU with ``tokenize='none'`` and
    ``lowercase``, which is multi-bleu's arithmetic. `tokenized_references` are the official
    ``*.lc.norm.tok.LANG`` lines, used as they are.
    """
    import sacremoses

    tokenize = moses_tokenizer(lang)
    metric = sacrebleu.metrics.BLEU(tokenize="none", lowercase=True, force=True)
    score = metric.corpus_score([tokenize(h) for h in hypotheses], [list(tokenized_references)])
    version = getattr(sacremoses, "__version__", "?")
    signature = (
        f"{metric.get_signature()}|hyp:moses-norm+tok-{lang}+escape+lc(sacremoses {version})"
        "|ref:official-lc.norm.tok"
    )
    return TokenizedBleu(score.score, signature, score.format(), lang)


# ---------------------------------------------------------------------------------------------
# Perplexity


@dataclass
class Perplexity:
    """exp(nll / tokens): per-token perplexity of the references, EOS included."""

    perplexity: float
    nll: float  # summed negative log-likelihood (nats)
    tokens: int  # reference tokens scored, one EOS per sentence included
    sentences: int  # sentence pairs scored
    skipped: int  # pairs left out because the source line is empty

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@torch.no_grad()
def reference_perplexity(
    model: torch.nn.Module,
    src_vocab: Any,
    tgt_vocab: Any,
    reverse_source: bool,
    sources: Sequence[str],
    references: Sequence[str],
    batch_size: int = 64,
    device: str | torch.device = "cpu",
) -> Perplexity:
    """Teacher-forced perplexity of `references` given `sources` under `model`.

    A single `Seq2Seq` is scored through `SequenceLoss` (the training objective, summed NLL); an
    `Ensemble` through the log of its members' mean probabilities (paper §3.6). Sources are encoded
    with the checkpoint's vocabulary and reversed when it was trained so (paper §3.3).
    """
    from seq2seq.data.batching import make_source_batch, make_target_batch

    src_ids = src_vocab.encode_batch(list(sources))
    tgt_ids = tgt_vocab.encode_batch(list(references))
    kept = [i for i, ids in enumerate(src_ids) if ids]
    if len(kept) < len(src_ids):
        first = next(i for i, ids in enumerate(src_ids) if not ids)
        log.warning(
            f"{len(src_ids) - len(kept)} empty source lines (first: line {first + 1}) are left "
            "out of the perplexity"
        )
    if not kept:
        raise DataError("every source line is empty; there is nothing to score")
    nll_of_batch = _batch_nll(model, tgt_vocab.pad_id)
    order = sorted(kept, key=lambda i: (len(src_ids[i]), len(tgt_ids[i])))
    total_nll, total_tokens = 0.0, 0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        src, lengths = make_source_batch(
            [src_ids[i] for i in rows], src_vocab.pad_id, reverse_source
        )
        tgt_in, tgt_out = make_target_batch([tgt_ids[i] for i in rows])
        total_nll += nll_of_batch(
            src.to(device), lengths.to(device), tgt_in.to(device), tgt_out.to(device)
        )
        total_tokens += sum(len(tgt_ids[i]) + 1 for i in rows)  # + 1: the EOS of each sentence
    return Perplexity(
        perplexity=math.exp(min(total_nll / total_tokens, 700.0)),
        nll=total_nll,
        tokens=total_tokens,
        sentences=len(kept),
        skipped=len(src_ids) - len(kept),
    )


def _batch_nll(model: torch.nn.Module, pad_id: int):
    """A function (src, lengths, tgt_in, tgt_out) -> summed NLL (float), for one model or an
    ensemble (model/interface.py: whatever scores)."""
    return lambda *batch: -float(target_log_probs(model, *batch, pad_id=pad_id).sum())
