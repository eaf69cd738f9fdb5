"""The same model, written in each system's own configuration language.

Every system trains a 2-layer LSTM encoder-decoder with 256-dim embeddings and 256 hidden units,
dropout 0.2, uniform initialisation in [-0.08, 0.08] (paper §3.4), Adam at a constant 1e-3,
gradient-norm clipping at 5 and batches of 64 sentences, validating every `valid_every` steps.
Two variants:

* ``plain``: the Sutskever et al. (2014) model: the decoder starts from the encoder's final state
  and sees nothing else (OpenNMT-py: ``global_attention: none``, ``input_feed: 0``, no bridge).
  Joey NMT's recurrent decoder always attends, so it has no ``plain`` run.
* ``attention``: Luong "general" attention with input feeding (Joey NMT: its recurrent decoder
  with ``attention: luong``, a unidirectional encoder, decoder initialised from its last state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODELS = ("plain", "attention")
SYSTEMS = ("seq2seq", "onmt", "joey")
LAYERS, EMB, HIDDEN, DROPOUT, LR, BATCH, INIT, CLIP = 2, 256, 256, 0.2, 1e-3, 64, 0.08, 5.0


def supports(system: str, model: str) -> bool:
    """Whether `system` can express `model` (Joey NMT has no attention-free decoder)."""
    return not (system == "joey" and model == "plain")


def ours_config(
    model: str,
    data_dir: Path,
    out_dir: Path,
    minutes: float,
    valid_every: int,
    precision: str = "fp32",
    shortlist: bool = False,
):
    """`seq2seq train` config: our recipe with source reversal (paper §3.3).

    `precision` (fp32 | bf16 | auto) sets both training's and the search's arithmetic;
    `shortlist` makes the search score only each batch's lexical shortlist.
    """
    attention = model == "attention"
    return {
        "data": {"dir": str(data_dir), "reverse_source": True, "batch_size": BATCH},
        "model": {
            "cell": "lstm",
            "embedding_size": EMB,
            "hidden_size": HIDDEN,
            "layers": LAYERS,
            "dropout": DROPOUT,
            "init_range": INIT,
            "context": "attention" if attention else "init",
            "attention": "general",
            "input_feeding": attention,
        },
        "train": {
            "out_dir": str(out_dir),
            "optimizer": "adam",
            "lr": LR,
            "schedule": "constant",
            "epochs": 1000,
            "max_minutes": minutes,
            "normalize": "tokens",
            "clip": CLIP,
            "log_every": 50,
            "valid_every": valid_every,
            "valid_bleu": False,
            "device": "cpu",
            "threads": 2,
            "tensorboard": False,
            "precision": precision,
        },
        "decode": {"batch_size": BATCH, "precision": precision, "shortlist": shortlist},
    }


def onmt_config(model: str, pieces: Path, vocab: Path, out_dir: Path, valid_every: int):
    """OpenNMT-py 3.5.1 training config (options as in its `onmt/opts.py`)."""
    attention = model == "attention"
    return {
        "save_data": str(out_dir / "data"),
        "src_vocab": str(vocab),
        "tgt_vocab": str(vocab),
        "share_vocab": True,
        "src_vocab_size": 10000,
        "tgt_vocab_size": 10000,
        "data": {
            "corpus_1": {
                "path_src": str(pieces / "train.en"),
                "path_tgt": str(pieces / "train.fr"),
            },
            "valid": {"path_src": str(pieces / "valid.en"), "path_tgt": str(pieces / "valid.fr")},
        },
        "save_model": str(out_dir / "model"),
        "save_checkpoint_steps": 100,
        "keep_checkpoint": 2,
        "seed": 1,
        "train_steps": 10_000_000,
        "valid_steps": valid_every,
        "report_every": 50,
        "bucket_size": 16384,  # the default 262144 repeats Multi30k ~9x inside a bucket
        "num_workers": 0,
        "batch_type": "sents",
        "batch_size": BATCH,
        "valid_batch_size": BATCH,
        "model_type": "text",
        "encoder_type": "rnn",
        "decoder_type": "rnn",
        "rnn_type": "LSTM",
        "layers": LAYERS,
        "word_vec_size": EMB,
        "hidden_size": HIDDEN,
        "dropout": [DROPOUT],
        "global_attention": "general" if attention else "none",
        "input_feed": 1 if attention else 0,
        "bridge": False,
        "param_init": INIT,
        "optim": "adam",
        "learning_rate": LR,
        "learning_rate_decay": 1.0,
        "decay_method": "none",
        "max_grad_norm": CLIP,
        "tensorboard": False,
    }


def joey_testing(beam: int) -> dict[str, Any]:
    """Joey NMT's `testing` section: the search `translate` runs (alpha 1: length-normalised)."""
    return {
        "beam_size": beam,
        "beam_alpha": 1.0 if beam > 1 else 0.0,
        "batch_size": BATCH,
        "batch_type": "sentence",
        "max_output_length": 100,
        "eval_metrics": [],
        "sacrebleu_cfg": {"tokenize": "13a"},
    }


def joey_config(
    model: str, pieces: Path, vocab: Path, out_dir: Path, valid_every: int, beam: int = 1
) -> dict[str, Any]:
    """Joey NMT 2.3.0 config; `beam` sets the `testing` section used by `translate`."""
    if not supports("joey", model):
        raise ValueError("Joey NMT has no attention-free recurrent decoder")
    side = {"level": "word", "lowercase": False, "max_length": 200, "voc_file": str(vocab)}
    rnn = {"rnn_type": "lstm", "hidden_size": HIDDEN, "num_layers": LAYERS, "dropout": DROPOUT}
    return {
        "name": f"joey-{model}",
        "joeynmt_version": "2.3.0",
        "data": {
            "train": str(pieces / "train"),
            "dev": str(pieces / "valid"),
            "test": str(pieces / "test"),
            "dataset_type": "plain",
            "src": {"lang": "en", **side},
            "trg": {"lang": "fr", **side},
        },
        "testing": joey_testing(beam),
        "training": {
            "random_seed": 1,
            "optimizer": "adam",
            "learning_rate": LR,
            "scheduling": "exponential",  # decrease_factor 1.0: a constant rate
            "decrease_factor": 1.0,
            "batch_size": BATCH,
            "batch_type": "sentence",
            "clip_grad_norm": CLIP,
            "epochs": 1000,
            "validation_freq": valid_every,
            "logging_freq": 50,
            "early_stopping_metric": "ppl",
            "eval_metrics": [],
            "model_dir": str(out_dir),
            "overwrite": True,
            "shuffle": True,
            "use_cuda": False,
            "keep_best_ckpts": -1,
            "print_valid_sents": [],
        },
        "model": {
            "initializer": "uniform",
            "init_weight": INIT,
            "bias_initializer": "zeros",
            "embed_initializer": "uniform",
            "embed_init_weight": INIT,
            "tied_embeddings": False,
            "encoder": {
                "type": "recurrent",
                "embeddings": {"embedding_dim": EMB},
                "bidirectional": False,
                **rnn,
            },
            "decoder": {
                "type": "recurrent",
                "embeddings": {"embedding_dim": EMB},
                "hidden_dropout": DROPOUT,
                "input_feeding": True,
                "init_hidden": "last",
                "attention": "luong",
                **rnn,
            },
        },
    }
