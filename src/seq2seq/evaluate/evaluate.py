"""Evaluating a test set: run the model on it (or take a hypotheses file) and score it.

The task's metrics (seq2seq/tasks.py: the checkpoint's task, else ``--task``; evaluate/metrics.py)
with their signatures: BLEU and chrF from sacreBLEU for every task, and for a chatbot distinct-1,
distinct-2 and the mean answer length; and the per-token perplexity of the references under the
model (teacher forcing, EOS included). `seq2seq evaluate` prints them (commands/evaluate.py),
``--json`` as one object for scripts and ``seq2seq report --eval``::

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

from seq2seq.audio.features import AudioSource
from seq2seq.checkpoint import read_task
from seq2seq.data.io import AtomicTextFile, guess_language
from seq2seq.decode.transcriber import Transcriber
from seq2seq.decode.translator import Translator
from seq2seq.errors import ConfigError
from seq2seq.evaluate.metrics import MetricScore, join_references, metric_names, score
from seq2seq.evaluate.scores import (
    CorpusScores,
    check_aligned,
    corpus_scores,
    read_lines,
    tokenized_bleu,
)
from seq2seq.scoring import reference_perplexity
from seq2seq.tasks import get_task


def evaluate(
    src: Path,
    ref: Path | Sequence[Path],
    checkpoints: Sequence[Path] = (),
    hyp: Path | None = None,
    lowercase: bool = False,
    output: Path | None = None,
    device: str = "cpu",
    decode: dict[str, Any] | None = None,
    tok_ref: Path | None = None,
    tok_lang: str | None = None,
    task: str | None = None,
    metrics: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Scores of `hyp`, or of the checkpoints' translations of `src`, against `ref`, as one
    JSON-able dict. `decode` holds `DecodeConfig` overrides (beam_size, precision, ...).

    `ref` may be several aligned files, each one reference per line: every metric then counts
    them all (evaluate/metrics.py: ROUGE the best per sentence, BLEU and chrF as sacreBLEU's
    reference streams); the perplexity is the first file's.

    With `tok_ref` (an official ``*.lc.norm.tok.LANG`` file aligned with `ref`) the result also
    holds ``tokenized_bleu``: BLEU as the Multi30k literature counts it (`tokenized_bleu`), for
    language `tok_lang` (default: the checkpoint's target language, else the file name's).
    ``metrics`` holds each of `metrics` (default: those of `task`, else of the checkpoint's task,
    else translation's) with its signature.
    """
    if not checkpoints and hyp is None:
        raise ConfigError(
            "give evaluate.checkpoint to translate the source, or evaluate.hyp with translations"
        )
    ref_paths = [ref] if isinstance(ref, str | Path) else list(ref)
    sources, streams = read_lines(src), [read_lines(path) for path in ref_paths]
    check_aligned({str(src): sources, **{str(p): s for p, s in zip(ref_paths, streams)}})
    references = streams[0]
    result: dict[str, Any] = {
        "checkpoints": [str(p) for p in checkpoints],
        "src": str(src),
        "ref": str(ref_paths[0]),
        "refs": [str(p) for p in ref_paths],
        "hyp": str(hyp) if hyp else None,
        "lowercase": lowercase,
    }
    translator = Translator.load(checkpoints, device=device) if checkpoints else None
    if hyp is not None:
        hypotheses = read_lines(hyp)
        check_aligned({str(ref_paths[0]): references, str(hyp): hypotheses})
    elif translator is not None:
        hypotheses = _translate(translator, sources, decode or {}, output, result, src.parent)
    corpus = corpus_scores(hypotheses, references, lowercase, more=streams[1:])
    result.update(corpus.to_dict())
    chosen = (
        get_task(task) if task else read_task(checkpoints[0]) if checkpoints else get_task(None)
    )
    result["task"] = chosen.name
    names = list(metrics) if metrics else metric_names(chosen.name)
    scores = task_metrics(names, hypotheses, join_references(streams), corpus, sources)
    result["metrics"] = [m.to_dict() for m in scores]
    result["tokenized_bleu"] = None
    if tok_ref is not None:
        tokenized = read_lines(tok_ref)
        check_aligned({str(ref_paths[0]): references, str(tok_ref): tokenized})
        lang = tok_lang or (translator.tgt_lang if translator else None) or guess_language(tok_ref)
        if not lang:
            raise ConfigError(
                f"cannot tell the language of {tok_ref} for the Moses tokeniser; give evaluate.tok_lang"
            )
        result["tokenized_bleu"] = tokenized_bleu(hypotheses, tokenized, lang).to_dict()
    result["perplexity"] = None
    if translator is not None and not isinstance(translator.src_vocab, AudioSource):
        batch_size = (decode or {}).get("batch_size") or translator.config.decode.batch_size
        src_ids, tgt_ids, copy_maps = translator.scoring_inputs(sources, references)
        result["perplexity"] = reference_perplexity(
            translator.model,
            src_ids,
            tgt_ids,
            translator.reverse_source,
            batch_size=batch_size,
            device=translator.device,
            src_maps=copy_maps,
        ).to_dict()
    return result


def _translate(
    translator: Translator,
    sources: list[str],
    decode: dict[str, Any],
    output: Path | None,
    result: dict[str, Any],
    src_dir: Path = Path("."),
) -> list[str]:
    """The 1-best translation of each source (a speech model's sources name recordings, relative
    to `src_dir`, which it transcribes); the search settings and time go into `result`."""
    settings = translator.settings(**{**decode, "n_best": 1})
    started = time.perf_counter()
    if isinstance(translator.src_vocab, AudioSource):
        recordings = [src_dir / line.split("\t", 1)[0] for line in sources]  # absolute: as is
        hypotheses = cast(list[str], Transcriber(translator).transcribe(recordings, settings))
    else:
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


def task_metrics(
    names: Sequence[str],
    hypotheses: Sequence[str],
    references: Sequence[str],
    corpus: CorpusScores,
    sources: Sequence[str] | None = None,
) -> list[MetricScore]:
    """The named metrics; BLEU and chrF are `corpus`'s (they honour --lowercase), the others
    evaluate/metrics.py's (the `sources` group a word's lines for the pronunciation metrics)."""
    given = {
        "bleu": MetricScore("bleu", corpus.bleu, corpus.bleu_signature),
        "chrf": MetricScore("chrf", corpus.chrf, corpus.chrf_signature),
    }
    others = [name for name in names if name not in given]
    computed = dict(zip(others, score(others, hypotheses, references, sources), strict=True))
    return [given.get(name) or computed[name] for name in names]


def _past(verb: str) -> str:
    """'translate' -> 'translated', 'answer' -> 'answered'."""
    return verb + ("d" if verb.endswith("e") else "ed")


def format_result(result: dict[str, Any]) -> str:
    """The human-readable summary: scores, signatures, perplexity."""
    lines = [
        result["bleu_text"],
        f"  {result['bleu_signature']}",
        f"chrF2 = {result['chrf']:.2f}",
        f"  {result['chrf_signature']}",
    ]
    if "task" in result:  # the task's metrics beyond BLEU and chrF, each with its signature
        for metric in result["metrics"]:
            if metric["name"] not in ("bleu", "chrf"):
                lines += [f"{metric['name']} = {metric['score']:.4f}", f"  {metric['signature']}"]
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
            f"{_past(get_task(result.get('task')).verb)} {result['sentences']:,} sentences with "
            f"beam {result['beam_size']} "
            f"in {result['translate_seconds']:.1f} s ({speed:.1f} sentences/s)"
        )
    if "task" in result:
        names = ", ".join(metric["name"] for metric in result["metrics"])
        lines.append(f"task: {result['task']} (metrics: {names})")
    return "\n".join(lines)
