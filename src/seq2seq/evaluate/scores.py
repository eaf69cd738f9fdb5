"""Metrics of a test set: sacreBLEU's BLEU and chrF, and BLEU as the Multi30k literature counts it.

BLEU is the paper's metric (Sutskever et al. 2014, §3.6, "cased BLEU"); it and chrF come from
sacreBLEU, never from a home-made n-gram counter, and each comes with its signature so a number can
be reproduced. The model's perplexity of the references is scoring.py's (teacher forcing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sacrebleu

from seq2seq.errors import DataError


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
    hypotheses: Sequence[str],
    references: Sequence[str],
    lowercase: bool = False,
    more: Sequence[Sequence[str]] = (),
) -> CorpusScores:
    """BLEU and chrF of aligned hypotheses and references (and `more` reference streams, each
    aligned with them: sacreBLEU's multi-reference scores), with their sacreBLEU signatures."""
    hyps, refs = list(hypotheses), [list(references), *(list(stream) for stream in more)]
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
