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

from seq2seq.config import Config
from seq2seq.data.batching import make_batches
from seq2seq.data.prepare import load_prepared
from seq2seq.decode.validation import DevBleu
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
    copy = cfg.model.copy
    train_batches = make_batches(
        data, "train", cfg.data, shuffle=True, seed=cfg.train.seed, copy=copy
    )
    valid_batches = None
    if "valid" in data.splits:
        valid_batches = make_batches(
            data, "valid", cfg.data, shuffle=False, seed=cfg.train.seed, copy=copy
        )
    model = Seq2Seq(cfg.model, len(data.src_vocab), len(data.tgt_vocab)).to(ctx.device)
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
