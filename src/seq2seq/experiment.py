"""Assembling a training run from its config: the one place that knows every part a run needs.

    trainer = build_trainer(config, resume=False, overwrite=False)
    state = trainer.fit()

It sets the process up (threads, process group, seed), loads the prepared data, builds the model
and the batches, hands the trainer a dev-BLEU validator built on decode, restores the newest
committed checkpoint on `resume`, and only then claims the run directory: it takes the directory's
lock (a second process on it is refused, naming this one; seq2seq/locking.py), recovers it after a
kill or deletes earlier checkpoints when `overwrite` is asked for, and records the config. A
refused start writes nothing. It sits above train and decode, which never import each other.
"""

from __future__ import annotations

import logging

import torch

from seq2seq.audio.features import AudioSource
from seq2seq.config import Config
from seq2seq.data.audio_batching import is_audio, make_audio_batches
from seq2seq.data.batching import BatchIterator, make_batches
from seq2seq.data.prepare import PreparedData, load_prepared
from seq2seq.decode.validation import DevBleu
from seq2seq.errors import ConfigError
from seq2seq.model.seq2seq import Seq2Seq
from seq2seq.train import distributed
from seq2seq.train.rundir import RunDir
from seq2seq.train.trainer import Trainer

log = logging.getLogger(__name__)


def build_trainer(config: Config, resume: bool = False, overwrite: bool = False) -> Trainer:
    """A ready `Trainer` for `config`; see the module docstring for what it does on the way."""
    cfg = config
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    ctx = distributed.setup(cfg.train.device)
    torch.manual_seed(cfg.train.seed)
    data = load_prepared(cfg.data.dir)
    check_source(cfg, data)
    train_batches = split_batches(data, "train", cfg, shuffle=True)
    valid_batches = None
    if "valid" in data.splits:
        valid_batches = split_batches(data, "valid", cfg, shuffle=False)
    src_size = 0 if cfg.model.acoustic else len(data.src_vocab)  # audio: model.features
    ctc = cfg.train.ctc_weight > 0
    model = Seq2Seq(cfg.model, src_size, len(data.tgt_vocab), ctc=ctc).to(ctx.device)
    run = RunDir(cfg.train.out_dir)
    if ctx.is_main:
        run.check(resume=resume, overwrite=overwrite)
    dev_bleu = DevBleu(data, cfg, ctx.device) if valid_batches is not None else None
    trainer = Trainer(cfg, model, data, train_batches, valid_batches, run, ctx, dev_bleu)
    if resume:
        trainer.restore()  # refuses a checkpoint of another model before anything is written
    if ctx.is_main:
        run.claim()  # one process per run directory, from here to the end of the run
        if resume:  # said before the start-up check, which may be killed too
            log.info(
                f"resumed from {trainer.checkpointer.restored_from} at step {trainer.state.step}"
            )
        run.start(cfg, resume=resume, overwrite=overwrite)
    return trainer


def split_batches(data: PreparedData, split: str, cfg: Config, *, shuffle: bool) -> BatchIterator:
    """The batches of a split: of token ids (copy maps for a copy model), or of audio frames."""
    if is_audio(data):
        return make_audio_batches(data, split, cfg.data, shuffle=shuffle, seed=cfg.train.seed)
    return make_batches(
        data, split, cfg.data, shuffle=shuffle, seed=cfg.train.seed, copy=cfg.model.copy
    )


def check_source(cfg: Config, data: PreparedData) -> None:
    """Refuse, in one sentence, a model whose encoder does not read the data's kind of source."""
    where = f"data directory {data.dir}"
    if is_audio(data) and not cfg.model.acoustic:
        raise ConfigError(
            f"{where} holds audio, but model.encoder is '{cfg.model.encoder}', which reads "
            "tokens; use pyramidal or conv"
        )
    if not is_audio(data) and cfg.model.acoustic:
        raise ConfigError(
            f"{where} holds text, but model.encoder '{cfg.model.encoder}' reads audio frames; "
            "use rnn"
        )
    source = data.src_vocab
    if isinstance(source, AudioSource) and source.dim != cfg.model.features:
        raise ConfigError(
            f"{where} has {source.dim} features per frame, but model.features is "
            f"{cfg.model.features}; set model.features={source.dim}"
        )
