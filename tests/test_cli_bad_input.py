"""Bad input of every kind, across every command: each case ends in one sentence that names what
and where, exit status 2 (130 / 143 for signals, 141 for a closed stdout), no traceback, and the
files around it exactly as they were: no partial or temporary output, no earlier output touched.

The cases are data (`CASES`): `scripts/bad_input_table.py` runs them too and writes the table in
docs/reliability.md ("## Bad input") with the sentence each one gives. Most run in-process through
`seq2seq.commands.main` (fast); signals and pipes run `python -m seq2seq.cli` in a subprocess.

Every case runs in one shared folder (`build_world`) with the current directory there; the whole
folder is fingerprinted before and after each case and must not change at all.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORDS = [f"w{i}" for i in range(20)]
KEEP = "an earlier result that must survive\n"


@dataclass(frozen=True)
class Case:
    """One bad input. `argv` holds `{name}` placeholders for the paths of `build_world`."""

    id: str
    argv: tuple[str, ...]
    says: tuple[str, ...]  # what the one sentence must contain (besides "error:")
    what: str  # the bad input in words, for the docs
    code: int = 2
    stdin: bytes = b""
    how: str = "call"  # call (in-process) | sigterm | sigint | closed-stdout | head
    read_only: bool = False  # needs the read-only folder {ro}

    @property
    def command(self) -> str:
        return self.argv[0]


def _c(id: str, argv: str, says: tuple[str, ...] | str, what: str, **kw) -> Case:
    says = (says,) if isinstance(says, str) else says
    return Case(id, tuple(argv.split()), says, what, **kw)


CK = "--checkpoint {ckpt}"
TEST_SET = "--src {src} --ref {ref}"

CASES: list[Case] = [
    # demo
    _c("demo-out-file", "demo --out {keep}", ("--out", "keep.txt", "is a file"),
       "--out names an existing file"),
    _c("demo-minutes", "demo --minutes 0", ("--minutes", "0"), "--minutes 0"),
    # download (nothing here reaches the network: every case stops before)
    _c("download-out-file", "download multi30k --out {keep}", ("--out", "is a file"),
       "--out names an existing file"),
    _c("download-out-readonly", "download multi30k --out {ro}/multi30k",
       ("--out", "ro", "cannot write"), "--out inside a read-only directory", read_only=True),
    _c("download-langs", "download multi30k --langs en,xx --out {new}/m30k", ("xx",),
       "an unknown language in --langs"),
    # prepare
    _c("prepare-src-missing", "prepare --src {missing}/a.en --tgt {train_fr} --out {new}/data",
       ("--src", "a.en", "does not exist"), "--src names a missing file"),
    _c("prepare-src-only", "prepare --src {train_en} --out {new}/data",
       ("--src and --tgt",), "--src without --tgt"),
    _c("prepare-src-vocab-0", "prepare --src {train_en} --tgt {train_fr} --src-vocab-size 0 "
       "--out {new}/data", ("--src-vocab-size", "0"), "--src-vocab-size 0"),
    _c("prepare-tgt-vocab-negative", "prepare --src {train_en} --tgt {train_fr} "
       "--tgt-vocab-size -5 --out {new}/data", ("--tgt-vocab-size", "-5"),
       "a negative --tgt-vocab-size"),
    _c("prepare-max-len-0", "prepare --src {train_en} --tgt {train_fr} --max-len 0 "
       "--out {new}/data", ("--max-len", "0"), "--max-len 0"),
    _c("prepare-truncate-src-0", "prepare --src {train_en} --tgt {train_fr} --truncate-src 0 "
       "--out {new}/data", ("--truncate-src", "0"), "--truncate-src 0"),
    _c("prepare-vocab-size-text", "prepare --src {train_en} --tgt {train_fr} "
       "--src-vocab-size many --out {new}/data", ("--src-vocab-size", "many"),
       "a vocabulary size that is not a number"),
    _c("prepare-out-file", "prepare --src {train_en} --tgt {train_fr} --out {keep}",
       ("--out", "is a file"), "--out names an existing file"),
    _c("prepare-out-readonly", "prepare --src {train_en} --tgt {train_fr} --out {ro}/data",
       ("--out", "cannot write"), "--out inside a read-only directory", read_only=True),
    _c("prepare-overwrites-input", "prepare --src {raw}/train.src --tgt {raw}/train.tgt "
       "--out {raw}", ("--src", "overwritten"),
       "--out is the folder of inputs named like its outputs"),
    _c("prepare-misaligned", "prepare --src {train_en} --tgt {short_fr} --out {new}/data",
       ("train.en", "short.fr", "20 lines", "12"), "source and target of different lengths"),
    _c("prepare-bad-utf8", "prepare --src {bad_utf8} --tgt {train_fr} --out {new}/data",
       ("bad-utf8.en:3", "UTF-8"), "invalid UTF-8 in a source line"),
    _c("prepare-tsv-no-tab", "prepare --tsv {tsv} --out {new}/data", ("pairs.tsv:2", "no tab"),
       "a TSV line without a tab"),
    _c("prepare-truncated-gz", "prepare --src {trunc_gz} --tgt {train_fr} --out {new}/data",
       ("cut.en.gz", "truncated"), "a truncated .gz file"),
    # prepare for speech: a manifest of audio<TAB>transcript lines (commands/prepare_speech.py)
    _c("prepare-manifest-no-tab", "prepare --manifest {m_notab} --out {new}/data",
       ("notab.tsv:1", "no tab"), "a speech manifest line without a tab"),
    _c("prepare-audio-missing", "prepare --manifest {m_missing} --out {new}/data",
       ("missing.tsv:1", "gone.wav", "does not exist"), "a manifest naming a missing audio file"),
    _c("prepare-audio-unreadable", "prepare --manifest {m_notaudio} --out {new}/data",
       ("notaudio.tsv:1", "notaudio.wav", "cannot be read"), "a file that is not audio"),
    _c("prepare-audio-empty", "prepare --manifest {m_empty} --out {new}/data",
       ("empty.tsv:1", "empty.wav", "no samples"), "audio with no samples"),
    _c("prepare-audio-silent", "prepare --manifest {m_silent} --out {new}/data",
       ("silent.tsv:1", "silent.wav", "is silent"), "silent audio (every sample below -80 dBFS)"),
    _c("prepare-audio-two-hours", "prepare --manifest {m_long} --out {new}/data",
       ("long.tsv:1", "2 h 0 min 0 s", "--max-seconds"), "2 hours of audio (limit 60 s)"),
    _c("prepare-audio-strict-rate", "prepare --manifest {m_ok} --strict-rate --out {new}/data",
       ("ok.wav", "8000 Hz, not 16000 Hz", "--strict-rate"),
       "8 kHz audio with --strict-rate at 16 kHz"),
    # transcribe (commands/transcribe.py)
    _c("transcribe-no-input", "transcribe --checkpoint {ckpt}",
       ("audio files or --manifest FILE",), "neither audio files nor --manifest"),
    _c("transcribe-audio-missing", "transcribe --checkpoint {ckpt} {missing}/gone.wav",
       ("gone.wav", "does not exist"), "an audio file that does not exist"),
    _c("transcribe-text-checkpoint", "transcribe --checkpoint {ckpt} --manifest {m_ok}",
       ("model.safetensors", "reads text, not audio", "seq2seq translate reads"),
       "a text model asked to transcribe"),
    # split
    _c("split-csv-missing", "split --csv {missing}/qa.csv --columns Q A --out {new}/split",
       ("--csv", "qa.csv", "does not exist"), "--csv names a missing file"),
    _c("split-csv-no-columns", "split --csv {train_en} --out {new}/split", ("--columns",),
       "--csv without --columns"),
    _c("split-csv-bad-column", "split --csv {train_en} --columns Q A --out {new}/split",
       ("train.en", "no column 'Q'", "its columns are"), "a column name the CSV header lacks"),
    _c("split-misaligned", "split --src {train_en} --tgt {short_fr} --out {new}/split",
       ("train.en", "short.fr", "20 lines", "12"), "source and target of different lengths"),
    _c("split-too-large", "split --src {train_en} --tgt {train_fr} --dev 10 --test 10 "
       "--out {new}/split", ("dev", "test", "for training"),
       "dev and test sizes that leave nothing to train on"),
    _c("split-out-file", "split --src {train_en} --tgt {train_fr} --out {keep}",
       ("--out", "is a file"), "--out names an existing file"),
    _c("split-aeslc-not-corpus", "split --aeslc {outdir} --out {new}/split",
       ("an-existing-dir", "is not an AESLC copy"), "--aeslc names a folder without train/"),
    _c("split-aeslc-no-subject", "split --aeslc {aeslc_bad} --out {new}/split",
       ("a_inbox_1.subject", "no @subject line"), "an AESLC e-mail file without @subject"),
    # train
    _c("train-config-missing", "train {missing}/config.yaml", ("config.yaml", "does not exist"),
       "the config file is missing"),
    _c("train-config-yaml", "train {bad_yaml}", ("bad.yaml", "line"), "the config is not YAML"),
    _c("train-set-unknown-key", "train {config} --set model.colour=red", ("model.colour",),
       "--set names an unknown key"),
    _c("train-data-missing", "train {config} --set data.dir={missing}/data",
       ("data directory", "does not exist"), "data.dir names a missing folder"),
    _c("train-resume-nothing", "train {config} --resume --set train.out_dir={new}/run",
       ("--resume", "no checkpoint"), "--resume where no run is"),
    _c("train-out-dir-file", "train {config} --set train.out_dir={keep}", ("keep.txt",),
       "train.out_dir names an existing file"),
    # export (seq2seq/export): every case stops before a graph is written
    _c("export-ckpt-missing", "export {missing}/m.safetensors --out {new}/onnx",
       ("m.safetensors", "does not exist"), "a checkpoint that does not exist"),
    _c("export-out-file", "export {ckpt} --out {keep}", ("--out", "keep.txt", "is a file"),
       "--out names an existing file"),
    _c("export-ckpt-garbage", "export {ck_garbage} --out {new}/onnx",
       ("garbage.safetensors", "not a readable checkpoint"), "a checkpoint that is not safetensors"),
    _c("export-speech-model", "export {ck_speech} --out {new}/onnx",
       ("speech.safetensors", "speech model", "seq2seq transcribe"),
       "a speech model, which the export does not cover"),
    # translate --model: an exported folder, read by the runtime
    _c("translate-model-and-ckpt", "translate --checkpoint {ckpt} --model {run} --input {src}",
       ("--checkpoint", "--model"), "both --checkpoint and --model"),
    _c("translate-model-not-export", "translate --model {run} --input {src} --output {keep}",
       ("run", "manifest.json", "seq2seq export"), "--model names a folder that is no export"),
    # translate: checkpoints (the output file keep.txt must survive each)
    _c("translate-ckpt-missing", "translate --checkpoint {missing}/m.safetensors "
       "--input {src} --output {keep}", ("m.safetensors", "does not exist"),
       "--checkpoint names a missing file"),
    _c("translate-ckpt-dir", "translate --checkpoint {run} --input {src} --output {keep}",
       ("is a directory", "best.safetensors"), "--checkpoint names a run directory"),
    _c("translate-ckpt-garbage", "translate --checkpoint {ck_garbage} --input {src}",
       ("garbage.safetensors", "not a readable checkpoint"),
       "a checkpoint that is not safetensors"),
    _c("translate-ckpt-truncated", "translate --checkpoint {ck_truncated} --input {src}",
       ("truncated.safetensors", "truncated"), "a truncated checkpoint"),
    _c("translate-ckpt-foreign", "translate --checkpoint {ck_foreign} --input {src}",
       ("foreign.safetensors", "not a seq2seq checkpoint"),
       "a safetensors file from another program"),
    _c("translate-ckpt-bad-json", "translate --checkpoint {ck_bad_json} --input {src} "
       "--output {keep}", ("bad-json.safetensors", "malformed config", "not JSON"),
       "checkpoint metadata that is not JSON"),
    _c("translate-ckpt-no-config", "translate --checkpoint {ck_no_config} --input {src}",
       ("no-config.safetensors", "lacks its config"), "checkpoint metadata without config"),
    _c("translate-ckpt-no-vocab", "translate --checkpoint {ck_no_vocab} --input {src}",
       ("no-vocab.safetensors", "lacks its target vocabulary"),
       "checkpoint metadata without a vocabulary"),
    _c("translate-ckpt-bad-vocab", "translate --checkpoint {ck_bad_vocab} --input {src}",
       ("bad-vocab.safetensors", "source vocabulary"), "a vocabulary without its words"),
    _c("translate-ckpt-newer", "translate --checkpoint {ck_newer} --input {src}",
       ("newer.safetensors", "format version 99", "up to"),
       "a checkpoint from a newer format version"),
    _c("translate-ensemble-vocab", "translate --checkpoint {ckpt} {ck_other} --input {src}",
       ("other-vocab.safetensors", "different source vocabularies"),
       "ensemble members with different vocabularies"),
    # translate: input and output paths
    _c("translate-output-missing-dir", f"translate {CK} --input {{src}} --output {{missing}}/o.txt",
       ("--output", "missing", "does not exist"), "--output in a missing directory"),
    _c("translate-output-readonly", f"translate {CK} --input {{src}} --output {{ro}}/o.txt",
       ("--output", "cannot write"), "--output in a read-only directory", read_only=True),
    _c("translate-output-dir", f"translate {CK} --input {{src}} --output {{outdir}}",
       ("--output", "is a directory"), "--output names an existing directory"),
    _c("translate-output-is-input", f"translate {CK} --input {{src}} --output {{src}}",
       ("--output", "--input", "overwritten"), "--output is the --input file"),
    _c("translate-input-missing", f"translate {CK} --input {{missing}}/in.en --output {{keep}}",
       ("--input", "in.en", "does not exist"), "--input names a missing file"),
    _c("translate-input-dir", f"translate {CK} --input {{outdir}}", ("--input", "directory"),
       "--input names a directory"),
    _c("translate-input-bad-utf8", f"translate {CK} --input {{bad_utf8}} --output {{keep}}",
       ("bad-utf8.en:3", "UTF-8"), "invalid UTF-8 in --input"),
    _c("translate-stdin-bad-utf8", f"translate {CK}", ("standard input line 2", "UTF-8"),
       "invalid UTF-8 on standard input", stdin=b"w1 w2\nw3 \xff w4\n"),
    _c("translate-max-src-len-0", f"translate {CK} --max-src-len 0", ("--max-src-len",),
       "--max-src-len 0"),
    _c("translate-beam-0", f"translate {CK} --beam-size 0 --input {{src}}", ("--beam-size",),
       "--beam-size 0"),
    _c("translate-length-penalty-1000", f"translate {CK} --length-penalty 1000 --input {{src}}",
       ("penalty", "1000"), "--length-penalty 1000 (overflowed the search)"),
    _c("translate-length-penalty-1e308", f"translate {CK} --length-penalty 1e308 --input {{src}}",
       ("penalty", "less than or equal to 10"), "--length-penalty 1e308"),
    _c("translate-length-penalty-inf", f"translate {CK} --length-penalty inf --input {{src}}",
       ("penalty", "finite"), "--length-penalty inf"),
    _c("translate-length-penalty-negative", f"translate {CK} --length-penalty -1 --input {{src}}",
       ("penalty", "-1"), "--length-penalty -1"),
    _c("translate-max-len-ratio-nan", f"translate {CK} --max-len-ratio nan --input {{src}}",
       ("ratio", "finite"), "--max-len-ratio nan"),
    _c("translate-min-len-above-cap", f"translate {CK} --min-len 500 --input {{src}}",
       ("500", "length cap", "input line 1"), "--min-len 500, above the length cap"),
    _c("translate-device", f"translate {CK} --device tpu9 --input {{src}}", ("--device", "tpu9"),
       "--device names no device"),
    _c("translate-sigterm", f"translate {CK} --output {{keep}}", ("terminated",),
       "SIGTERM while translating to --output", code=143, how="sigterm"),
    _c("translate-sigint", f"translate {CK} --output {{keep}}", ("interrupted",),
       "Ctrl-C (SIGINT) while translating to --output", code=130, how="sigint"),
    _c("translate-closed-stdout", f"translate {CK} --quiet --input {{src}}", (),
       "stdout closed by its reader", code=141, how="closed-stdout"),
    _c("translate-head", f"translate {CK} --quiet --input {{many}}", (),
       "`translate | head -1` (two chunks of output)", code=141, how="head"),
    # shortlist
    _c("shortlist-readonly", "shortlist --checkpoint {ro}/model.safetensors --data {data}",
       ("--checkpoint", "cannot write"), "a checkpoint in a read-only directory",
       read_only=True),
    _c("shortlist-data-missing", f"shortlist {CK} --data {{missing}}/data",
       ("data directory", "does not exist"), "--data names a missing folder"),
    _c("shortlist-k-0", f"shortlist {CK} --k 0", ("--k",), "--k 0"),
    _c("shortlist-ckpt-dir", "shortlist --checkpoint {run} --data {data}",
       ("is a directory",), "--checkpoint names a run directory"),
    # rescore
    _c("rescore-nbest-malformed", f"rescore {CK} --src {{src}} --nbest {{bad_nbest}} "
       "--output {outdir}/1best", ("bad.nbest:2",), "a malformed n-best line"),
    _c("rescore-nbest-beyond-src", f"rescore {CK} --src {{src}} --nbest {{far_nbest}} "
       "--output {outdir}/1best", ("far.nbest", "sentence id 9"),
       "an n-best sentence id past the end of --src"),
    _c("rescore-output-dir", f"rescore {CK} --src {{src}} --nbest {{nbest}} --output {{outdir}}",
       ("--output", "is a directory"), "--output names an existing directory"),
    _c("rescore-nbest-output-missing-dir", f"rescore {CK} --src {{src}} --nbest {{nbest}} "
       "--output {outdir}/1best --nbest-output {missing}/all.nbest",
       ("--nbest-output", "does not exist"), "--nbest-output in a missing directory"),
    _c("rescore-output-is-nbest", f"rescore {CK} --src {{src}} --nbest {{nbest}} "
       "--output {nbest}", ("--output", "--nbest", "overwritten"), "--output is the --nbest file"),
    _c("rescore-weight", f"rescore {CK} --src {{src}} --nbest {{nbest}} --output {{outdir}}/1best "
       "--weight 2", ("--weight",), "--weight outside [0, 1]"),
    # evaluate
    _c("evaluate-output-readonly", f"evaluate {CK} {TEST_SET} --output {{ro}}/hyp.txt",
       ("--output", "cannot write"), "--output in a read-only directory", read_only=True),
    _c("evaluate-output-dir", f"evaluate {CK} {TEST_SET} --output {{outdir}}",
       ("--output", "is a directory"), "--output names an existing directory"),
    _c("evaluate-output-missing-dir", f"evaluate {CK} {TEST_SET} --output {{missing}}/h.txt",
       ("--output", "does not exist"), "--output in a missing directory"),
    _c("evaluate-output-is-ref", f"evaluate {CK} {TEST_SET} --output {{ref}}",
       ("--output", "--ref", "overwritten"), "--output is the --ref file"),
    _c("evaluate-misaligned", f"evaluate {CK} --src {{src}} --ref {{short_fr}}",
       ("short.fr",), "--src and --ref of different lengths"),
    _c("evaluate-nothing-to-score", f"evaluate {TEST_SET}", ("--checkpoint", "--hyp"),
       "neither --checkpoint nor --hyp"),
    _c("evaluate-closed-stdout", f"evaluate {TEST_SET} --hyp {{ref}}", (),
       "stdout closed before the scores are printed", code=141, how="closed-stdout"),
    _c("evaluate-hyp-missing", f"evaluate {TEST_SET} --hyp {{missing}}/h.txt",
       ("--hyp", "does not exist"), "--hyp names a missing file"),
    _c("evaluate-second-ref-misaligned", f"evaluate {TEST_SET} --ref {{short_fr}} --hyp {{ref}}",
       ("short.fr", "12 lines"), "a second --ref of another length"),
    # analyze
    _c("analyze-out-file", f"analyze length {TEST_SET} --system a={{ref}} --out {{keep}}",
       ("--out", "is a file"), "--out names an existing file"),
    _c("analyze-system-name", f"analyze length {TEST_SET} --system =x --out {{new}}/a",
       ("--system", "NAME=PATH"), "--system without a name"),
    _c("analyze-phrases", f"analyze pca {CK} --phrases {{phrases}} --out {{new}}/a",
       ("phrases.txt:1", "group<TAB>phrase"), "a phrases file without tabs"),
    _c("analyze-limit", f"analyze beams {CK} {TEST_SET} --limit 0 --out {{new}}/a",
       ("--limit",), "--limit 0"),
    _c("analyze-attention-ckpt", "analyze attention --checkpoint {ck_newer} --sentence w1 "
       "--out {new}/a", ("newer.safetensors", "format version"),
       "a checkpoint from a newer format version"),
    # report
    _c("report-run-missing", "report {missing}/run", ("run directory", "does not exist"),
       "RUN_DIR is missing"),
    _c("report-out-dir", "report {run} --out {outdir}", ("--out", "is a directory"),
       "--out names an existing directory"),
    _c("report-eval-malformed", "report {run} --eval {bad_eval} --out {new}/r.html",
       ("eval.json:1", "not JSON"), "--eval that is not JSON"),
    # average
    _c("average-one", "average {ckpt} --output {outdir}/avg.safetensors", ("at least two",),
       "a single checkpoint to average"),
    _c("average-output-dir", "average {ckpt} {ckpt} --output {outdir}",
       ("--output", "is a directory"), "--output names an existing directory"),
    _c("average-output-is-input", "average {ckpt} {run}/best.safetensors --output {ckpt}",
       ("--output", "overwritten"), "--output is one of the checkpoints averaged"),
    _c("average-shapes", "average {ckpt} {ck_other} --output {outdir}/avg.safetensors",
       ("other-vocab.safetensors", "shape"), "checkpoints of different vocabulary sizes"),
    _c("average-newer", "average {ckpt} {ck_newer} --output {outdir}/avg.safetensors",
       ("newer.safetensors", "format version 99"), "a checkpoint from a newer format version"),
    # chat
    _c("chat-ckpt-missing", "chat --checkpoint {missing}/m.safetensors", ("does not exist",),
       "--checkpoint names a missing file"),
    _c("chat-stdin-bad-utf8", f"chat {CK}", ("standard input line 2", "UTF-8"),
       "invalid UTF-8 on standard input", stdin=b"w1 w2\n\xc3\x28\n"),
    # serve
    # serve binds its address before it loads the model: --port 0 keeps a busy 8080 out of these
    _c("serve-ckpt-dir", "serve --checkpoint {run} --port 0", ("is a directory",),
       "--checkpoint names a run directory"),
    _c("serve-port", f"serve {CK} --port 70000", ("--port", "70000"), "--port 70000"),
    _c("serve-length-penalty-1000", f"serve {CK} --port 0 --length-penalty 1000 --source-lang en "
       "--target-lang fr",
       ("penalty", "1000"), "--length-penalty 1000 (died at start-up)"),
    _c("serve-api-keys", f"serve {CK} --port 0 --api-keys {{missing}}/keys.txt",
       ("keys.txt", "cannot read"), "--api-keys names a missing file"),
    # a speech model's upload limits (bad uploads themselves: tests/serve/test_transcribe_server.py)
    _c("serve-max-upload-bytes-0", f"serve {CK} --port 0 --max-upload-bytes 0",
       ("--max-upload-bytes", "0"), "--max-upload-bytes 0"),
    _c("serve-max-seconds-negative", f"serve {CK} --port 0 --max-seconds -5",
       ("--max-seconds", "-5"), "--max-seconds -5"),
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The shared folder


def _speech_checkpoint(path: Path) -> Path:
    """An untrained recogniser of five letters (pyramidal encoder over 80 mel features)."""
    import numpy as np
    import torch

    from seq2seq.audio.features import AudioSource, FeatureConfig
    from seq2seq.checkpoint import checkpoint_bytes, write_atomic
    from seq2seq.config import Config
    from seq2seq.data.vocab import CharVocab
    from seq2seq.model.seq2seq import Seq2Seq

    torch.manual_seed(0)
    config = Config.model_validate(
        {"data": {"reverse_source": False},
         "model": {"encoder": "pyramidal", "features": 80, "hidden_size": 16, "embedding_size": 8,
                   "layers": 2, "context": "attention", "time_reduction": 2}}
    )  # fmt: skip
    vocab = CharVocab(list("abcde"))
    model = Seq2Seq(config.model, 0, len(vocab))
    source = AudioSource(FeatureConfig(), np.full(80, -8.0), np.ones(80))
    write_atomic(path, checkpoint_bytes(model, config, source, vocab, task="speech"))
    return path


def _tiny_checkpoint(path: Path, source_words: list[str] = WORDS) -> Path:
    import torch

    from seq2seq.checkpoint import checkpoint_bytes, write_atomic
    from seq2seq.config import Config
    from seq2seq.data.vocab import WordVocab
    from seq2seq.model.seq2seq import Seq2Seq

    torch.manual_seed(0)
    config = Config.model_validate(
        {
            "data": {"reverse_source": True},
            "model": {"cell": "lstm", "embedding_size": 8, "hidden_size": 16, "layers": 1,
                      "context": "attention"},
            "decode": {"beam_size": 1, "batch_size": 256, "max_len_ratio": 0.5,
                       "max_len_offset": 2},
        }
    )  # fmt: skip
    src_vocab, tgt_vocab = WordVocab(source_words), WordVocab(WORDS)
    model = Seq2Seq(config.model, len(src_vocab), len(tgt_vocab))
    write_atomic(path, checkpoint_bytes(model, config, src_vocab, tgt_vocab))
    return path


def _variant(good: Path, path: Path, **meta_changes: str | None) -> Path:
    """A copy of `good` with metadata keys replaced (a value) or removed (None)."""
    from safetensors import safe_open
    from safetensors.torch import load, save

    with safe_open(str(good), framework="pt") as handle:
        meta = dict(handle.metadata())
    for key, value in meta_changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    path.write_bytes(save(load(good.read_bytes()), metadata=meta))
    return path


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _bad_audio(folder: Path) -> dict[str, Path]:
    """Audio files good and bad, each named by a one-line speech manifest ``m_<kind>``."""
    import numpy as np
    import soundfile

    folder.mkdir()
    wave = 0.3 * np.sin(2 * np.pi * 440 * np.arange(4000) / 8000)
    soundfile.write(str(folder / "ok.wav"), wave, 8000)
    soundfile.write(str(folder / "silent.wav"), np.zeros(4000), 8000)
    soundfile.write(str(folder / "empty.wav"), np.zeros(0), 8000)
    (folder / "notaudio.wav").write_text("this is text, not audio\n", encoding="utf-8")
    with open(folder / "long.wav", "wb") as handle:  # 2 hours by its header; a sparse file
        soundfile.write(handle, wave[:100], 8000, format="WAV", subtype="PCM_16")
    data = 2 * 3600 * 8000 * 2
    raw = bytearray((folder / "long.wav").read_bytes()[:44])
    raw[4:8], raw[40:44] = (36 + data).to_bytes(4, "little"), data.to_bytes(4, "little")
    (folder / "long.wav").write_bytes(bytes(raw))
    os.truncate(folder / "long.wav", 44 + data)
    files = {"ok": "ok.wav", "silent": "silent.wav", "empty": "empty.wav", "long": "long.wav",
             "notaudio": "notaudio.wav", "missing": "gone.wav"}  # fmt: skip
    paths = {f"m_{k}": _lines(folder / f"{k}.tsv", [f"{name}\tw1 w2"]) for k, name in files.items()}
    paths["m_notab"] = _lines(folder / "notab.tsv", ["ok.wav w1 w2"])
    return paths


def build_world(root: Path) -> dict[str, str]:
    """Every file the cases name, in `root`; returns the placeholder -> path table."""
    from safetensors.torch import save

    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import prepare

    p: dict[str, Path] = {}
    ck = root / "checkpoints"
    ck.mkdir()
    good = p["ckpt"] = _tiny_checkpoint(ck / "model.safetensors")
    p["ck_other"] = _tiny_checkpoint(ck / "other-vocab.safetensors", WORDS[:12])
    p["ck_speech"] = _speech_checkpoint(ck / "speech.safetensors")
    data = good.read_bytes()
    p["ck_garbage"] = ck / "garbage.safetensors"
    p["ck_garbage"].write_bytes(b"this is not a checkpoint\n" * 10)
    p["ck_truncated"] = ck / "truncated.safetensors"
    p["ck_truncated"].write_bytes(data[: len(data) // 2])
    p["ck_foreign"] = ck / "foreign.safetensors"
    p["ck_foreign"].write_bytes(save({"x": __import__("torch").zeros(2)}, metadata={"a": "b"}))
    p["ck_bad_json"] = _variant(good, ck / "bad-json.safetensors", config='{"model": {')
    p["ck_no_config"] = _variant(good, ck / "no-config.safetensors", config=None)
    p["ck_no_vocab"] = _variant(good, ck / "no-vocab.safetensors", tgt_vocab=None)
    p["ck_bad_vocab"] = _variant(good, ck / "bad-vocab.safetensors", src_vocab='{"kind": "word"}')
    p["ck_newer"] = _variant(good, ck / "newer.safetensors", version="99")
    p["run"] = root / "run"
    p["run"].mkdir()
    shutil.copy(good, p["run"] / "best.safetensors")

    text = root / "text"
    text.mkdir()
    sentences = [" ".join(WORDS[(i * 7 + j) % 20] for j in range(3 + i % 4)) for i in range(20)]
    p["src"] = _lines(text / "test.en", sentences[:4])
    p["ref"] = _lines(text / "test.fr", sentences[:4])
    p["train_en"] = _lines(text / "train.en", sentences)
    p["train_fr"] = _lines(text / "train.fr", sentences)
    p["short_fr"] = _lines(text / "short.fr", sentences[:12])
    p["many"] = _lines(text / "many.en", [" ".join(WORDS[1:13])] * 5000)  # 120 kB of output
    p["bad_utf8"] = text / "bad-utf8.en"
    p["bad_utf8"].write_bytes(b"w1 w2\nw3\nw4 caf\xe9\n" + b"w5\n" * 17)
    p["tsv"] = _lines(text / "pairs.tsv", ["w1\tw1", "w2 w3 w2 w3", "w4\tw4"])
    p["trunc_gz"] = text / "cut.en.gz"
    noise = [base64.b64encode(random.Random(i).randbytes(3000)).decode() for i in range(20)]
    p["trunc_gz"].write_bytes(gzip.compress("".join(n + "\n" for n in noise).encode())[:40000])
    p["raw"] = root / "raw"
    p["raw"].mkdir()
    _lines(p["raw"] / "train.src", sentences)
    _lines(p["raw"] / "train.tgt", sentences)
    p["nbest"] = _lines(text / "good.nbest", [f"{i} ||| {s} ||| logprob= -1 ||| -1"
                                               for i, s in enumerate(sentences[:4])])  # fmt: skip
    p["bad_nbest"] = _lines(text / "bad.nbest", ["0 ||| w1 ||| logprob= -1 ||| -1", "1 ||| w2"])
    p["far_nbest"] = _lines(text / "far.nbest", ["9 ||| w1 ||| logprob= -1 ||| -1"])
    p["phrases"] = _lines(text / "phrases.txt", ["w1 w2", "w3 w4", "w5 w6"])
    p["bad_eval"] = _lines(text / "eval.json", ["{'bleu': 3"])
    p["bad_yaml"] = _lines(text / "bad.yaml", ["model:", "  cell: [lstm", "train: {"])
    p.update(_bad_audio(root / "audio"))
    p["aeslc_bad"] = root / "aeslc-bad"  # an AESLC copy whose one e-mail has no @subject
    (p["aeslc_bad"] / "enron_subject_line" / "train").mkdir(parents=True)
    _lines(p["aeslc_bad"] / "enron_subject_line" / "train" / "a_inbox_1.subject", ["w1 w2"])

    p["data"] = root / "data"
    prepare(p["data"], ParallelSource(p["train_en"], p["train_fr"]), vocab="word", progress=False)
    p["config"] = _lines(root / "config.yaml", [
        "data: {dir: " + str(p["data"]) + "}",
        "model: {embedding_size: 8, hidden_size: 16, layers: 1, context: init}",
        "train: {out_dir: " + str(root / "runs" / "one") + ", threads: 1}",
    ])  # fmt: skip
    p["keep"] = root / "keep.txt"
    p["keep"].write_text(KEEP, encoding="utf-8")
    p["outdir"] = root / "an-existing-dir"
    p["outdir"].mkdir()
    p["ro"] = root / "ro"
    p["ro"].mkdir()
    shutil.copy(good, p["ro"] / "model.safetensors")
    p["missing"] = root / "missing"
    p["new"] = root / "new"  # never created by a failing case
    return {k: str(v) for k, v in p.items()}


def make_read_only(folder: Path) -> bool:
    """Make `folder` refuse new files (chmod for a user; the immutable flag for root, whom
    permissions do not stop); False where neither works."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            return False
        subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    else:
        folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except OSError:
        return True
    (folder / "probe").unlink()
    return False


def undo_read_only(folder: Path) -> None:
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    folder.chmod(0o755)


def fingerprint(root: Path) -> dict[str, str]:
    """Every file and folder under `root` with its content hash: any change shows."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        found[key] = "dir" if path.is_dir() else hashlib.sha1(path.read_bytes()).hexdigest()
    return found


# ---------------------------------------------------------------------------------------------
# Running a case


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def _argv(case: Case, paths: dict[str, str]) -> list[str]:
    return [arg.format(**paths) for arg in case.argv]


def run_case(case: Case, paths: dict[str, str], root: Path) -> Outcome:
    """Run one case with the current directory in `root`."""
    if case.how == "call":
        return _in_process(case, paths, root)
    return _in_subprocess(case, paths, root)


def _in_process(case: Case, paths: dict[str, str], root: Path) -> Outcome:
    from seq2seq.commands import main

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr, os.getcwd()
    sys.stdin = io.TextIOWrapper(io.BytesIO(case.stdin), encoding="utf-8")
    sys.stdout, sys.stderr = out, err
    os.chdir(root)
    try:
        try:
            code = main(_argv(case, paths))
        except SystemExit as stop:  # argparse's own errors
            code = stop.code if isinstance(stop.code, int) else 2
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved[:3]
        os.chdir(saved[3])
    return Outcome(code, out.getvalue(), err.getvalue())


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return env


def _in_subprocess(case: Case, paths: dict[str, str], root: Path) -> Outcome:
    command = [sys.executable, "-m", "seq2seq.cli", *_argv(case, paths)]
    if case.how == "head":
        script = " ".join(map(_quote, command)) + " | head -1 >/dev/null; exit ${PIPESTATUS[0]}"
        done = subprocess.run(["bash", "-c", script], cwd=root, env=_env(), capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        return Outcome(done.returncode, done.stdout, done.stderr)
    # A shell runs background jobs with SIGINT ignored, and an ignored SIGINT is inherited (and
    # respected by Python, as by nohup): give the command Ctrl-C's default disposition, as a
    # terminal would, so the test means the same wherever pytest itself was started.
    proc = subprocess.Popen(command, cwd=root, env=_env(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_default_sigint)  # fmt: skip
    if case.how == "closed-stdout":
        proc.stdout.close()  # the reader is gone before the first line is written
        _, err = proc.communicate(timeout=300)
        return Outcome(proc.returncode, "", err.decode())
    # a signal: wait until the work has begun (the output's temporary file exists), then send it
    proc.stdin.write(b"w1 w2 w3\n")
    proc.stdin.flush()
    output = Path(paths["keep"])
    deadline = time.monotonic() + 240
    while not list(output.parent.glob(f".{output.name}.seq2seq-tmp-*")):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"translate never started its output: {err.decode()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM if case.how == "sigterm" else signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return Outcome(proc.returncode, out.decode(), err.decode())


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def the_sentence(outcome: Outcome) -> str:
    """The one line a case ends with (its message), for the docs."""
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    if outcome.code == 2:
        errors = [line for line in lines if ": error:" in line]
        return errors[0] if errors else ""
    return lines[-1] if lines else "(nothing)"


# ---------------------------------------------------------------------------------------------
# The tests


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input")
    paths = build_world(root)
    read_only = make_read_only(Path(paths["ro"]))
    yield root, paths, read_only
    undo_read_only(Path(paths["ro"]))


@pytest.mark.parametrize(
    "case",
    # the signal and pipe cases run the command in a subprocess (seconds each): slow
    [pytest.param(c, id=c.id, marks=pytest.mark.slow if c.how != "call" else ()) for c in CASES],
)
def test_bad_input_gives_one_sentence_and_changes_nothing(case, world):
    root, paths, read_only = world
    if case.read_only and not read_only:
        pytest.skip("cannot make a read-only directory here")
    before = fingerprint(root)
    outcome = run_case(case, paths, root)
    after = fingerprint(root)

    assert outcome.code == case.code, outcome.stderr
    assert "Traceback" not in outcome.stderr + outcome.stdout, outcome.stderr
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    if case.code == 2:
        assert len(errors) == 1, outcome.stderr
        assert errors[0].startswith(f"seq2seq {case.command}: error: "), errors[0]
        message = errors[0]
        assert len(message) < 400
    elif case.code == 141:  # a closed pipe ends quietly
        assert lines == [], outcome.stderr
        message = ""
    else:  # a signal: one line saying so, nothing else
        assert errors == [] and lines[-1] == f"seq2seq {case.command}: {case.says[0]}", lines
        message = lines[-1]
    for word in case.says:
        assert word in message, message
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert not changed, f"files changed: {sorted(changed)}"


def test_the_battery_covers_every_command_and_has_forty_cases():
    from seq2seq.commands import COMMANDS

    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.command for c in CASES} == set(COMMANDS)


def test_the_table_in_docs_lists_every_case():
    """docs/reliability.md's table is generated from CASES (scripts/bad_input_table.py --write)."""
    text = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    block = text[text.index("<!-- bad-input: begin") : text.index("<!-- bad-input: end")]
    rows = [line.split(" | ") for line in block.splitlines() if line[:3].strip("| ").isdigit()]
    listed = [(cells[1], cells[2].replace("\\|", "|")) for cells in rows]
    assert listed == [(c.command, c.what) for c in CASES], (
        "docs/reliability.md is stale: run python scripts/bad_input_table.py --write"
    )


def test_library_errors_are_typed_for_api_users(world):
    """The same bad inputs through the library: typed exceptions, no sentence printed."""
    from seq2seq.checkpoint import read_checkpoint
    from seq2seq.data.io import AtomicTextFile, check_writable
    from seq2seq.errors import CheckpointError, DataError

    _, paths, _ = world
    for key in ("ck_bad_json", "ck_no_config", "ck_no_vocab", "ck_newer", "run"):
        with pytest.raises(CheckpointError):
            read_checkpoint(paths[key])
    with pytest.raises(DataError, match="is a directory"):
        check_writable(paths["outdir"], "--output")
    with pytest.raises(DataError, match="does not exist"):
        check_writable(Path(paths["missing"]) / "x", "--output")
    with pytest.raises(DataError, match="cannot write"):
        with AtomicTextFile(paths["outdir"]) as handle:  # the rename onto a directory fails
            handle.write("x")
    assert not list(Path(paths["outdir"]).parent.glob(".an-existing-dir.seq2seq-tmp-*"))


def test_a_pipe_or_device_output_is_written_in_place_not_replaced(tmp_path):
    """`--output /dev/stdout` or a FIFO: no temporary file, no rename over the special file."""
    import stat
    import threading

    from seq2seq.data.io import AtomicTextFile, check_writable

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    check_writable(fifo, "--output")
    with AtomicTextFile(fifo) as handle:
        handle.write("w1 w2\n")
    reader.join(timeout=10)
    assert received == ["w1 w2\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_prepare_drops_overlong_pairs_by_default_and_says_how_many(tmp_path, caplog):
    from seq2seq.data.io import ParallelSource
    from seq2seq.data.prepare import DEFAULT_MAX_LEN, prepare

    lines = ["w1 w2 w3"] * 5 + [" ".join(["w4"] * (DEFAULT_MAX_LEN + 1))] * 2
    src, tgt = _lines(tmp_path / "a.en", lines), _lines(tmp_path / "a.fr", lines)
    with caplog.at_level("WARNING", logger="seq2seq"):
        prepared = prepare(tmp_path / "data", ParallelSource(src, tgt), progress=False)
    assert prepared.manifest["splits"]["train"]["pairs"] == 5
    assert prepared.manifest["splits"]["train"]["too_long"] == 2
    assert prepared.manifest["max_len"] == DEFAULT_MAX_LEN
    assert "dropped 2 of 7 pairs longer than 250 tokens" in caplog.text


@contextlib.contextmanager
def _no_sigterm_handler_left():
    before = signal.getsignal(signal.SIGTERM)
    yield
    assert signal.getsignal(signal.SIGTERM) == before


def test_main_restores_the_sigterm_handler(world):
    root, paths, _ = world
    with _no_sigterm_handler_left():
        run_case(CASES[0], paths, root)


# ---------------------------------------------------------------------------------------------
# kill -9: what a killed run leaves, the next run into the same place removes (issue 22.6)


def _hidden_temps(folder: Path, prefix: str = ".") -> list[str]:
    """Temporary files of writes in `folder` (ours, .NAME.seq2seq-tmp-PID, or any older .tmp)."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith(prefix) and ("seq2seq-tmp-" in p.name or p.name.endswith(".tmp"))
    )


def _kill_when(proc: subprocess.Popen, appeared, what: str) -> None:
    """kill -9 `proc` as soon as `appeared()` is true (polled every 5 ms)."""
    deadline = time.monotonic() + 240
    while not appeared():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"{what} never showed: {err.decode()}")
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@contextlib.contextmanager
def _live_process():
    """A process that stays alive while the block runs (its pid names a live writer)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_a_translate_killed_mid_output_leaves_a_temp_file_the_next_run_removes(world, tmp_path):
    from seq2seq.commands import main

    _, paths, _ = world
    output = tmp_path / "out.txt"
    command = [sys.executable, "-m", "seq2seq.cli", "translate", "--checkpoint", paths["ckpt"]]
    proc = subprocess.Popen([*command, "--output", str(output)], env=_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    proc.stdin.write(b"w1 w2 w3\n")
    proc.stdin.flush()
    _kill_when(proc, lambda: _hidden_temps(tmp_path), "translate's temporary output")
    assert _hidden_temps(tmp_path) and not output.exists()  # what kill -9 leaves

    with _live_process() as pid:  # neighbour: a live writer's temporary file is not ours
        live = tmp_path / f".out.txt.seq2seq-tmp-{pid}"
        live.write_text("a live writer's half\n")
        assert main(["translate", "--checkpoint", paths["ckpt"], "--input", paths["src"],
                     "--output", str(output)]) == 0  # fmt: skip
        assert _hidden_temps(tmp_path) == [live.name]
    assert len(output.read_text("utf-8").splitlines()) == 4


@pytest.mark.slow
def test_a_prepare_killed_mid_write_leaves_temp_files_the_next_prepare_removes(world, tmp_path):
    from seq2seq.commands import main

    _, paths, _ = world
    big = tmp_path / "big.en"
    big.write_text(" ".join(WORDS[:12]) * 2 + "\n" + (" ".join(WORDS) + "\n") * 150_000)
    out = tmp_path / "data"
    command = [sys.executable, "-m", "seq2seq.cli", "prepare", "--src", str(big), "--tgt", str(big)]
    proc = subprocess.Popen([*command, "--out", str(out)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip

    # kill in the second pass, while the final files are written under temporary names
    def writing() -> bool:
        return out.is_dir() and any(".part" not in n for n in _hidden_temps(out, ".train.src."))

    _kill_when(proc, writing, "prepare's temporary train.src")
    left = _hidden_temps(out)
    assert len(left) >= 2, left

    with _live_process() as pid:  # neighbour: a live writer's temporary file is left alone
        live = out / f".valid.src.seq2seq-tmp-{pid}"
        live.write_text("a live writer's half\n")
        flags = ["--src", paths["train_en"], "--tgt", paths["train_fr"], "--out", str(out)]
        assert main(["prepare", *flags]) == 0
        assert _hidden_temps(out) == [live.name]
    assert (out / "train.src").read_text("utf-8") == Path(paths["train_en"]).read_text("utf-8")
