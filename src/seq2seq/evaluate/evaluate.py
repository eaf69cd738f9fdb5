"""Evaluating a test set: translate it (or take a hypotheses file) and score it.

BLEU and chrF from sacreBLEU with their signatures, and the per-token perplexity of the references
under the model (teacher forcing, EOS included); `seq2seq evaluate` prints them
(commands/evaluate.py), ``--json`` as one object for scripts and ``seq2seq report --eval``::

    seq2seq evaluate --checkpoint run/best.safetensors --src test.en.gz --ref test.fr.gz
    seq2seq evaluate --checkpoint a.safetensors b.safetensors --beam-size 12 \\
        --src test.en --ref test.fr --json > eval.json
    seq2seq evaluate --hyp output.fr --src test.en --ref test.fr       # scores only
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from seq2seq.data.io import AtomicTextFile, guess_language
from seq2seq.decode.translator import Translator
from seq2seq.errors import ConfigError
from seq2seq.evaluate.scores import (
    check_aligned,
    corpus_scores,
    read_lines,
    tokenized_bleu,
)
from seq2seq.scoring import reference_perplexity


def evaluate(
    src: Path,
    ref: Path,
    checkpoints: Sequence[Path] = (),
    hyp: Path | None = None,
    lowercase: bool = False,
    output: Path | None = None,
    device: str = "cpu",
    decode: dict[str, Any] | None = None,
    tok_ref: Path | None = None,
    tok_lang: str | None = None,
) -> dict[str, Any]:
    """Scores of `hyp`, or of the checkpoints' translations of `src`, against `ref`, as one
    JSON-able dict. `decode` holds `DecodeConfig` overrides (beam_size, precision, ...).

    With `tok_ref` (an official ``*.lc.norm.tok.LANG`` file aligned with `ref`) the result also
    holds ``tokenized_bleu``: BLEU as the Multi30k literature counts it (`tokenized_bleu`), for
    language `tok_lang` (default: the checkpoint's target language, else the file name's).
    """
    if not checkpoints and hyp is None:
        raise ConfigError(
            "give evaluate.checkpoint to translate the source, or evaluate.hyp with translations"
        )
    sources, references = read_lines(src), read_lines(ref)
    check_aligned({str(src): sources, str(ref): references})
    result: dict[str, Any] = {
        "checkpoints": [str(p) for p in checkpoints],
        "src": str(src),
        "ref": str(ref),
        "hyp": str(hyp) if hyp else None,
        "lowercase": lowercase,
    }
    translator = Translator.load(checkpoints, device=device) if checkpoints else None
    if hyp is not None:
        hypotheses = read_lines(hyp)
        check_aligned({str(ref): references, str(hyp): hypotheses})
    elif translator is not None:
        hypotheses = _translate(translator, sources, decode or {}, output, result)
    result.update(corpus_scores(hypotheses, references, lowercase).to_dict())
    result["tokenized_bleu"] = None
    if tok_ref is not None:
        tokenized = read_lines(tok_ref)
        check_aligned({str(ref): references, str(tok_ref): tokenized})
        lang = tok_lang or (translator.tgt_lang if translator else None) or guess_language(tok_ref)
        if not lang:
            raise ConfigError(
                f"cannot tell the language of {tok_ref} for the Moses tokeniser; give evaluate.tok_lang"
            )
        result["tokenized_bleu"] = tokenized_bleu(hypotheses, tokenized, lang).to_dict()
    result["perplexity"] = None
    if translator is not None:
        batch_size = (decode or {}).get("batch_size") or translator.config.decode.batch_size
        result["perplexity"] = reference_perplexity(
            translator.model,
            translator.src_vocab.encode_batch(sources),
            translator.tgt_vocab.encode_batch(references),
            translator.reverse_source,
            batch_size=batch_size,
            device=translator.device,
        ).to_dict()
    return result


def _translate(
    translator: Translator,
    sources: list[str],
    decode: dict[str, Any],
    output: Path | None,
    result: dict[str, Any],
) -> list[str]:
    """The 1-best translation of each source; the search settings and time go into `result`."""
    settings = translator.settings(**{**decode, "n_best": 1})
    started = time.perf_counter()
    hypotheses = cast(list[str], translator.translate(sources, settings))  # n_best 1: strings
    seconds = time.perf_counter() - started
    result.update(
        beam_size=settings.beam_size,
        precision=settings.precision,
        shortlist=settings.shortlist,
        translate_seconds=round(seconds, 3),
    )
    if output is not None:
        with AtomicTextFile(output) as handle:
            handle.writelines(line + "\n" for line in hypotheses)
    return hypotheses


def format_result(result: dict[str, Any]) -> str:
    """The human-readable summary: scores, signatures, perplexity."""
    lines = [
        result["bleu_text"],
        f"  {result['bleu_signature']}",
        f"chrF2 = {result['chrf']:.2f}",
        f"  {result['chrf_signature']}",
    ]
    tok = result.get("tokenized_bleu")
    if tok is not None:
        lines += [f"tokenised, lower-cased (as the Multi30k literature): {tok['text']}",
                  f"  {tok['signature']}"]  # fmt: skip
    ppl = result.get("perplexity")
    if ppl is not None:
        lines.append(
            f"perplexity = {ppl['perplexity']:.3f} over {ppl['tokens']:,} reference tokens "
            f"of {ppl['sentences']:,} sentences (EOS included)"
        )
    if "beam_size" in result:
        speed = result["sentences"] / max(result["translate_seconds"], 1e-9)
        lines.append(
            f"translated {result['sentences']:,} sentences with beam {result['beam_size']} "
            f"in {result['translate_seconds']:.1f} s ({speed:.1f} sentences/s)"
        )
    return "\n".join(lines)
