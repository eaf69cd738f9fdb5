"""Typed, validated experiment configuration: one YAML file per experiment.

A config has four sections, `data`, `model`, `train` and `decode`. Unknown keys, wrong types and
impossible values raise `ConfigError` with one sentence naming the key and what is allowed.
Any key can be overridden from the command line with ``--set section.key=value`` (the value is
parsed as YAML, so ``--set model.layers=4`` gives an int and ``--set train.max_steps=null`` None).

`configs/reference.yaml` documents every key with a comment.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from seq2seq.errors import ConfigError
from seq2seq.tasks import DEFAULT_TASK, TaskName


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    """Where the prepared data lives and how it is batched."""

    dir: str = Field("data", description="data directory written by `seq2seq prepare`")
    reverse_source: bool = Field(
        True, description="feed source tokens in reverse order (paper §3.3)"
    )
    batch_size: int = Field(128, gt=0, description="sentences per batch (paper: 128)")
    batch_tokens: int | None = Field(
        None,
        gt=0,
        description="token budget per batch (source or target, the larger); overrides batch_size",
    )
    bucket_size: int = Field(
        100_000,
        gt=0,
        description="pairs read into memory at once and sorted by length (streaming chunk)",
    )
    max_valid_sentences: int | None = Field(
        None,
        gt=0,
        description="validate BLEU on at most this many dev sentences, spread evenly over the dev set",
    )
    spec_augment: bool = Field(
        True,
        description="audio sources: SpecAugment's time and frequency masks on training batches "
        "(Park et al. 2019)",
    )


# `model.copy` is the key the field's users know; pydantic warns that it hides BaseModel.copy,
# the deprecated alias of model_copy, which nothing here calls.
warnings.filterwarnings("ignore", 'Field name "copy" in "ModelConfig"', UserWarning)


class ModelConfig(_Section):
    """The encoder-decoder: cell, sizes and how the decoder receives the context."""

    cell: Literal["lstm", "gru", "rnn"] = Field("lstm", description="recurrent cell (paper: lstm)")
    embedding_size: int = Field(256, gt=0, description="word embedding size (paper: 1000)")
    hidden_size: int = Field(256, gt=0, description="encoder hidden size (per direction)")
    decoder_hidden_size: int | None = Field(
        None, gt=0, description="decoder hidden size; defaults to hidden_size (x2 if bidirectional)"
    )
    layers: int = Field(2, gt=0, description="encoder layers (paper: 4)")
    decoder_layers: int | None = Field(None, gt=0, description="decoder layers; defaults to layers")
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="dropout on embeddings and between layers"
    )
    bidirectional: bool = Field(False, description="encoder reads the source both ways")
    tie_embeddings: bool = Field(
        False, description="share decoder input embedding and output projection"
    )
    context: Literal["init", "bridge", "concat", "peeky", "attention"] = Field(
        "init", description="how the decoder receives the encoder's summary"
    )
    attention: Literal["dot", "general", "bahdanau", "location"] = Field(
        "general",
        description="score function when context=attention (Luong dot/general, Bahdanau; "
        "location: Bahdanau's plus the previous alignment convolved, Chorowski et al. 2015)",
    )
    encoder: Literal["rnn", "pyramidal", "conv"] = Field(
        "rnn",
        description="rnn: embeddings of tokens, then the RNN (text); pyramidal: a pyramidal RNN "
        "over audio frames whose upper layers each read pairs of the frames below (Chan et al. "
        "2016); conv: strided convolutions over audio frames, then the RNN (model/acoustic.py)",
    )
    features: int = Field(
        80, gt=0, description="pyramidal / conv: numbers per audio frame (the data's log-mel bands)"
    )
    time_reduction: int = Field(
        4,
        ge=1,
        le=64,
        description="pyramidal / conv: the encoder shortens time by this factor, a power of 2 "
        "(each halving is one pyramid layer or one strided convolution)",
    )
    conv_channels: int = Field(32, gt=0, description="conv: channels of each strided convolution")
    input_feeding: bool = Field(True, description="feed the attentional vector to the next step")
    copy: bool = Field(  # type: ignore[assignment]  # the key users know; hides BaseModel.copy
        False,
        description="pointer-generator copy mechanism (See et al. 2017): a learned switch mixes the "
        "vocabulary with the attention over source tokens, which may lie outside the vocabulary; "
        "needs context=attention",
    )
    init_range: float | None = Field(
        0.08, gt=0.0, description="uniform init in [-r, r] (paper: 0.08); null keeps PyTorch's"
    )

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        dec = self.decoder_hidden_size
        enc_out = self.hidden_size * (2 if self.bidirectional else 1)
        if dec is not None and dec != enc_out and self.context in ("init",):
            raise ValueError(
                f"model.decoder_hidden_size={dec} differs from the encoder's {enc_out}; "
                "context 'init' needs equal sizes, use context 'bridge' to map between them"
            )
        if (
            self.decoder_layers is not None
            and self.decoder_layers != self.layers
            and self.context == "init"
        ):
            raise ValueError(
                f"model.decoder_layers={self.decoder_layers} differs from model.layers={self.layers}; "
                "context 'init' copies state layer by layer, use context 'bridge'"
            )
        if self.copy and self.context != "attention":
            raise ValueError(
                f"model.copy copies through the attention weights, but model.context is "
                f"'{self.context}', which has none; use context 'attention' or copy false"
            )
        halvings = self.time_reduction.bit_length() - 1
        if self.time_reduction != 1 << halvings:
            raise ValueError(
                f"model.time_reduction={self.time_reduction} is not a power of 2 (1, 2, 4, 8, ...)"
            )
        if self.acoustic and self.copy:
            raise ValueError(
                f"model.copy copies source tokens, but model.encoder '{self.encoder}' reads "
                "audio frames; use copy false"
            )
        if self.encoder == "pyramidal" and halvings > self.layers:
            raise ValueError(
                f"model.time_reduction={self.time_reduction} takes {halvings} pyramid layers but "
                f"model.layers is {self.layers}; add layers or reduce time less"
            )
        return self

    @property
    def acoustic(self) -> bool:
        """Whether the encoder reads audio frames (pyramidal, conv) rather than tokens."""
        return self.encoder != "rnn"

    @property
    def dec_layers(self) -> int:
        return self.decoder_layers or self.layers

    @property
    def dec_hidden(self) -> int:
        return self.decoder_hidden_size or self.hidden_size * (2 if self.bidirectional else 1)


class TrainConfig(_Section):
    """Optimiser, schedule, clipping, validation, checkpoints and devices."""

    out_dir: str = Field("runs/experiment", description="run directory: checkpoints, logs")
    seed: int = Field(1, description="seed of the initial weights, dropout and batch order")
    optimizer: Literal["sgd", "adam"] = Field(
        "sgd", description="paper: plain SGD without momentum"
    )
    lr: float = Field(0.7, gt=0.0, description="learning rate (paper: 0.7)")
    schedule: Literal["halving", "constant", "plateau"] = Field(
        "halving", description="halving: the paper's; plateau: decay when dev perplexity stalls"
    )
    halve_after_epochs: float = Field(
        5.0, ge=0.0, description="paper: start halving after 5 epochs"
    )
    halve_every_epochs: float = Field(0.5, gt=0.0, description="paper: halve every half epoch")
    warmup_steps: int = Field(0, ge=0, description="linear learning-rate warm-up steps")
    plateau_factor: float = Field(
        0.5, gt=0.0, lt=1.0, description="plateau schedule: multiply the rate by this on decay"
    )
    plateau_patience: int = Field(
        2, ge=0, description="validations without improvement before decay"
    )
    epochs: float = Field(7.5, gt=0.0, description="paper: 7.5 epochs")
    max_steps: int | None = Field(None, gt=0, description="stop after this many updates")
    max_minutes: float | None = Field(
        None, gt=0.0, description="stop after this much training time"
    )
    clip: float = Field(5.0, gt=0.0, description="gradient norm threshold (paper: 5)")
    clip_mode: Literal["norm", "none"] = Field(
        "norm", description="rescale the gradient when its norm > clip"
    )
    normalize: Literal["sentences", "tokens"] = Field(
        "sentences",
        description="divide the summed loss by the batch's sentences (paper §3.4: g / batch_size) or tokens",
    )
    label_smoothing: float = Field(
        0.0, ge=0.0, lt=1.0, description="probability mass spread over the vocabulary (0: off)"
    )
    log_every: int = Field(50, gt=0, description="steps between log lines")
    valid_every: int = Field(1000, gt=0, description="steps between validations")
    valid_bleu: bool = Field(True, description="also decode the dev set greedily and report BLEU")
    best_metric: Literal["ppl", "bleu"] = Field(
        "ppl", description="dev metric that picks best.safetensors (bleu needs valid_bleu)"
    )
    patience: int | None = Field(
        None, gt=0, description="early stop after this many validations without gain"
    )
    save_every: int | None = Field(
        None,
        gt=0,
        description="steps between checkpoints; default valid_every (an improving validation "
        "always saves, so the best model is its own validated checkpoint)",
    )
    keep_last: int = Field(2, ge=1, description="keep this many latest checkpoints beside the best")
    device: Literal["cpu", "cuda", "auto"] = Field(
        "auto", description="auto: cuda when a GPU is visible"
    )
    precision: Literal["fp32", "bf16", "auto"] = Field(
        "fp32",
        description="bf16 autocasts matrix products; auto: bf16 where it is fast",
    )
    threads: int | None = Field(
        None, gt=0, description="CPU threads for PyTorch; default: all cores"
    )
    tensorboard: bool = Field(True, description="also write TensorBoard event files when installed")
    ctc_weight: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="joint CTC/attention (Watanabe et al. 2017): the share of a CTC loss on the "
        "encoder's outputs in the training loss (pyramidal / conv encoders); 0: off",
    )


# Bounds of the search's numeric settings: beyond them a setting means nothing a search could do
# (a length penalty of 1000 ranks by length alone; a ratio of 1e308 overflows the length cap).
LENGTH_PENALTY_LIMIT = 10.0
MAX_LEN_RATIO_LIMIT = 100.0
MAX_LEN_OFFSET_LIMIT = 10_000
TEMPERATURE_LIMIT = 100.0  # flatter than this is uniform to the last bit that matters
MAX_SAMPLES = 64  # samples per sentence, as many rows as the widest beam
MAX_SEED = 2**31 - 1
# The settings only sampling reads, at their "off" values (a beam search refuses any other)
SAMPLING_ONLY: dict[str, Any] = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}


class DecodeConfig(_Section):
    """Search settings used by validation, translate, evaluate, chat and serve unless overridden.

    This is the one carrier of search settings: the command-line flags are generated from these
    fields (commands/options.py) and the search functions read them (decode/search.py).
    """

    beam_size: int = Field(5, gt=0, le=64, description="beam width; 1 = greedy search")
    n_best: int = Field(
        1, gt=0, description="hypotheses kept per sentence (at most beam_size); sampling: samples"
    )
    batch_size: int = Field(64, gt=0, description="sentences per decoding batch")
    max_len_ratio: float = Field(
        2.0,
        gt=0.0,
        le=MAX_LEN_RATIO_LIMIT,
        allow_inf_nan=False,
        description="max output length = ratio * src_len + offset",
    )
    max_len_offset: int = Field(10, ge=0, le=MAX_LEN_OFFSET_LIMIT, description="see max_len_ratio")
    min_len: int = Field(
        0, ge=0, description="output tokens before EOS is allowed (the length cap still wins)"
    )
    length_penalty: float = Field(
        1.0,
        ge=0.0,
        le=LENGTH_PENALTY_LIMIT,
        allow_inf_nan=False,
        description="score / len**alpha when ranking finished hypotheses; 0 = raw log-prob",
    )
    precision: Literal["fp32", "bf16", "auto"] = Field(
        "fp32", description="search arithmetic; auto: bf16 where it is fast"
    )
    shortlist: bool = Field(
        False, description="score only each batch's lexical shortlist of target tokens"
    )
    replace_unk: bool = Field(
        False, description="replace <unk> by the source word it attends to (attention models)"
    )
    ctc_weight: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="speech models with a CTC head: every search step scores (1 - w) * "
        "attention + w * CTC prefix score (joint decoding, Watanabe et al. 2017); 0 = off",
    )
    sampling: bool = Field(
        False,
        description="draw each token from the model's distribution instead of a beam search "
        "(needs beam_size 1; n_best = samples per sentence, ranked by score)",
    )
    temperature: float = Field(
        1.0,
        gt=0.0,
        le=TEMPERATURE_LIMIT,
        allow_inf_nan=False,
        description="sampling: divide the log-probabilities by this; < 1 sharper, > 1 flatter",
    )
    top_k: int = Field(
        0, ge=0, description="sampling: draw only from the k likeliest tokens; 0 = all"
    )
    top_p: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="sampling: draw only from the smallest set of likeliest tokens whose "
        "probability reaches p (nucleus); 1 = all",
    )
    seed: int = Field(
        0,
        ge=0,
        le=MAX_SEED,
        description="sampling: line i of a call draws from a generator seeded by (seed, i), so a "
        "run repeats exactly whatever the batching",
    )

    @model_validator(mode="after")
    def _check(self) -> DecodeConfig:
        if self.sampling:
            if self.ctc_weight > 0:
                raise ValueError(
                    "decode.ctc_weight mixes CTC prefix scores into greedy or beam search, not "
                    "into sampling; leave it at 0 with decode.sampling"
                )
            if self.beam_size > 1:
                raise ValueError(
                    f"decode.sampling draws one token per step, so it runs with "
                    f"decode.beam_size=1, not {self.beam_size}"
                )
            if self.n_best > MAX_SAMPLES:
                raise ValueError(
                    f"decode.n_best={self.n_best} samples per sentence is more than {MAX_SAMPLES}"
                )
            return self
        if self.n_best > self.beam_size:
            raise ValueError(f"n_best={self.n_best} cannot exceed beam_size={self.beam_size}")
        for key, default in SAMPLING_ONLY.items():
            if getattr(self, key) != default:
                raise ValueError(
                    f"decode.{key}={getattr(self, key)} applies only to sampling; "
                    "set decode.sampling=true (--sampling) or leave it out"
                )
        return self


class Config(_Section):
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = DecodeConfig()

    @model_validator(mode="after")
    def _check(self) -> Config:
        if self.model.acoustic and self.data.reverse_source:
            raise ValueError(
                f"data.reverse_source reverses tokens, but model.encoder '{self.model.encoder}' "
                "reads audio frames in time order; set data.reverse_source=false"
            )
        if self.train.ctc_weight > 0 and not self.model.acoustic:
            raise ValueError(
                f"train.ctc_weight={self.train.ctc_weight} puts a CTC loss on audio frames, but "
                f"model.encoder is '{self.model.encoder}'; use pyramidal or conv, or ctc_weight 0"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# ---------------------------------------------------------------------------------------------
# Loading, overriding, and turning pydantic's reports into one sentence.


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if p != "__root__")
    kind = first["type"]
    given = first.get("input")
    if kind == "extra_forbidden":
        section, _, key = loc.rpartition(".")
        allowed = _allowed_keys(section)
        where = f"section '{section}'" if section else "the top level"
        return f"unknown config key '{loc}'; {where} allows: {', '.join(allowed)}"
    msg = first["msg"]
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    loc_txt = f"config key '{loc}'" if loc else "config"
    return f"{loc_txt}: {msg[0].lower() + msg[1:]} (got {given!r})"


def _allowed_keys(section: str) -> list[str]:
    model: type[BaseModel] = Config
    for part in filter(None, section.split(".")):
        field = model.model_fields.get(part)
        if field is None or not isinstance(field.annotation, type):
            return []
        model = field.annotation
    return sorted(model.model_fields)


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"model.layers=4"`` -> (["model", "layers"], 4); the value is read as YAML."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override '{item}' must look like section.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for item in overrides:
        path, value = parse_override(item)
        node = raw
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override '{item}': '{part}' is a value, not a section")
            node = child
        node[path[-1]] = value
    return raw


def config_from_dict(raw: dict[str, Any]) -> Config:
    if not isinstance(raw, dict):
        raise ConfigError("a config must be a mapping of sections (data, model, train, decode)")
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or start from defaults when `path` is None) and apply overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"config file {path} is not valid YAML{where}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not UTF-8 text") from None
    return config_from_dict(apply_overrides(raw, overrides or []))


def reference_yaml() -> str:
    """Every key with its default and meaning: the text of configs/reference.yaml."""
    lines = [
        "# Every configuration key, its default, and what it means.",
        "# Generated from seq2seq/config.py (tests check that it stays in sync).",
    ]
    for section, field in Config.model_fields.items():
        lines += ["", f"{section}:"]
        model = field.annotation
        assert isinstance(model, type)  # every section is a pydantic model
        defaults = model().model_dump(mode="json")
        for key, sub in model.model_fields.items():
            value = yaml.safe_dump(defaults[key], default_flow_style=True).strip()
            value = value.removesuffix("\n...").removesuffix("...").strip()
            comment = sub.description or ""
            choices = getattr(sub.annotation, "__args__", None)
            if choices and all(isinstance(c, str) for c in choices):
                comment = (comment + "; " if comment else "") + "one of " + " | ".join(choices)
            lines.append(f"  {key}: {value}" + (f"  # {comment}" if comment else ""))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Settings of the commands that stand outside an experiment, `seq2seq prepare` and `seq2seq serve`:
# validated models like the sections above, whose fields generate the commands' flags
# (commands/options.py). An error names the setting (`prepare.src_vocab_size`); the command layer
# turns that name into the flag (`--src-vocab-size`).

DEFAULT_MAX_SRC_LEN = 400  # translate, chat, serve: longer input lines get an empty output
# Training pairs longer than this (in vocabulary tokens, either side) are dropped and counted: such
# lines are nearly always alignment or extraction errors, and one of them fills a whole batch.
DEFAULT_MAX_LEN = 250
VOCAB_SIZES = {
    "word": (160_000, 80_000),
    "bpe": (8_000, 8_000),
    "unigram": (8_000, 8_000),
    "char": (10_000, 10_000),
}
VocabKind = Literal["word", "bpe", "unigram", "char"]


class CommandSettings(_Section):
    """A command's settings, validated when made: a wrong value raises a ConfigError naming
    ``SECTION.key`` (unlike pydantic's own report, one sentence)."""

    section: ClassVar[str] = ""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise ConfigError(_describe_setting(err, type(self))) from None


def _describe_setting(err: ValidationError, model: type[CommandSettings]) -> str:
    first = err.errors()[0]
    key = ".".join([model.section, *(str(p) for p in first["loc"])])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(model.model_fields)
        return f"unknown setting '{key}'; {model.section} allows: {allowed}"
    if not first["loc"]:  # a check across settings: its message names them
        return message
    return f"{key}: {message[0].lower() + message[1:]} (got {first.get('input')!r})"


class PrepareConfig(CommandSettings):
    """How `seq2seq prepare` cleans pairs and builds vocabularies (data/prepare.py)."""

    section: ClassVar[str] = "prepare"

    task: TaskName = Field(
        DEFAULT_TASK,
        description="what the pairs are (seq2seq/tasks.py): recorded in the manifest and every "
        "checkpoint trained on it; the commands and the server word themselves by it",
    )
    src_lang: str | None = Field(
        None, description="source language code (default: from the file name, e.g. train.en)"
    )
    tgt_lang: str | None = Field(
        None, description="target language code (default: from the file name)"
    )
    vocab: VocabKind = Field(
        "word",
        description="word: top-K words + <unk> (the paper); bpe / unigram: SentencePiece subwords; "
        "char: one token per character, a space the token \u2581 (src_vocab / tgt_vocab: one side's)",
    )
    src_vocab: VocabKind | None = Field(
        None, description="the source side's vocabulary kind, when not vocab's (G2P: char)"
    )
    tgt_vocab: VocabKind | None = Field(
        None, description="the target side's vocabulary kind, when not vocab's (G2P: word)"
    )
    src_vocab_size: int | None = Field(
        None,
        gt=0,
        description="source words kept (word: 160000), pieces (bpe, unigram: 8000) or the most "
        "frequent characters (char: 10000)",
    )
    tgt_vocab_size: int | None = Field(
        None,
        gt=0,
        description="target words kept (word: 80000), pieces (bpe, unigram: 8000) or characters "
        "(char: 10000)",
    )
    joint: bool = Field(
        False, description="one vocabulary shared by source and target (of the source size)"
    )
    lowercase: bool = Field(
        False, description="lowercase text when encoding (stored in the vocabulary)"
    )
    split_punct: bool = Field(
        False,
        description="word vocabularies: split punctuation off words, reversibly (untokenised text)",
    )
    sp_sample: int = Field(
        1_000_000, gt=0, description="SentencePiece trains on at most this many sentences"
    )
    character_coverage: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="share of the training text's characters SentencePiece keeps as pieces, the "
        "rarest others becoming <unk> (SentencePiece advises 0.9995 for Chinese, Japanese, Korean)",
    )
    byte_fallback: bool = Field(
        False,
        description="SentencePiece: spell a character outside the vocabulary as its UTF-8 bytes, "
        "not <unk> (with a character_coverage below 1, for Korean, Chinese, Japanese)",
    )
    seed: int = Field(1, description="seed of the SentencePiece sentence sample")
    max_len: int | None = Field(
        DEFAULT_MAX_LEN,
        gt=0,
        description="drop training pairs longer than this many tokens on either side, counted in "
        "the vocabulary's tokens (the number dropped is reported; null keeps every pair)",
    )
    truncate_src: int | None = Field(
        None,
        gt=0,
        description="cut each source of every split after whole words to at most this many "
        "tokens of the source vocabulary (summarisation's long e-mails; the number cut is "
        "reported, and max_len then judges the cut source; null: no cut)",
    )
    empty_lines: Literal["skip", "error"] = Field(
        "skip", description="skip pairs with an empty side (counted), or stop with file:line"
    )
    ids: bool = Field(
        True,
        description="also write the token ids training reads (without them training encodes "
        "the text again every epoch)",
    )

    @model_validator(mode="after")
    def _check(self) -> PrepareConfig:
        kinds = self.vocab_kinds
        if self.byte_fallback and not {"bpe", "unigram"} & set(kinds):
            raise ValueError(
                "prepare.byte_fallback applies to SentencePiece vocabularies (bpe, unigram); "
                f"a {kinds[0]} vocabulary spells an unknown token <unk>"
            )
        if self.split_punct and "word" not in kinds:
            raise ValueError(
                f"prepare.split_punct applies to word vocabularies; {kinds[0]} pieces need "
                "no tokenizer"
            )
        if self.joint and kinds[0] != kinds[1]:
            raise ValueError(
                f"prepare.joint: a joint vocabulary has one kind, but the source's is {kinds[0]} "
                f"and the target's {kinds[1]} (prepare.src_vocab, prepare.tgt_vocab)"
            )
        src, tgt = self.src_vocab_size, self.tgt_vocab_size
        if self.joint and src is not None and tgt is not None and src != tgt:
            raise ValueError(
                f"prepare.joint: a joint vocabulary has one size, but prepare.src_vocab_size is "
                f"{src} and prepare.tgt_vocab_size {tgt}"
            )
        return self

    @property
    def vocab_kinds(self) -> tuple[VocabKind, VocabKind]:
        """(source, target) vocabulary kinds: prepare.src_vocab / tgt_vocab, else prepare.vocab."""
        return self.src_vocab or self.vocab, self.tgt_vocab or self.vocab

    @property
    def vocab_sizes(self) -> tuple[int, int]:
        """(source, target) vocabulary sizes: the given ones, else the kinds' defaults."""
        src_kind, tgt_kind = self.vocab_kinds
        default_src, default_tgt = VOCAB_SIZES[src_kind][0], VOCAB_SIZES[tgt_kind][1]
        src, tgt = self.src_vocab_size, self.tgt_vocab_size
        if src is None:
            src = tgt if (self.joint and tgt is not None) else default_src
        return src, src if self.joint else (default_tgt if tgt is None else tgt)


class ServeConfig(CommandSettings):
    """What `seq2seq serve` listens on, allows and how it batches (serve/), checked at start-up.

    The search settings themselves are a `DecodeConfig`, the one `seq2seq translate` builds from
    the same flags, so a server and the command produce the same translations.
    """

    section: ClassVar[str] = "serve"

    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0: every interface)")
    port: int = Field(8080, ge=0, le=65535, description="port to listen on (0: any free one)")
    source_lang: str = Field(
        "", description="the model's source language code, e.g. en (default: the checkpoint's)"
    )
    target_lang: str = Field(
        "", description="the model's target language code, e.g. fr (default: the checkpoint's)"
    )
    api_keys: Path | None = Field(
        None,
        description="a file of API keys, one per line: requests without one of them get 403",
    )
    max_batch_sentences: int = Field(
        64, ge=1, description="a coalesced search stops growing at this many sentences"
    )
    max_batch_tokens: int = Field(6000, ge=1, description="... or at this many source tokens")
    max_wait_ms: float = Field(
        5.0,
        ge=0.0,
        le=10_000.0,
        allow_inf_nan=False,
        description="how long a request on an idle server waits for others to join its search",
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1, description="larger request bodies are answered 413"
    )
    max_upload_bytes: int = Field(
        16_000_000,
        ge=1,
        description="a speech model's larger uploads to /v1/transcribe are answered 413 (a "
        "minute of 44.1 kHz stereo 16-bit WAV is 10.6 MB)",
    )
    max_request_sentences: int = Field(
        256, ge=1, description="requests with more sentences (lines) are answered 413"
    )
    max_beam_size: int = Field(16, ge=1, le=64, description="the widest beam a request may ask for")
    threads: int | None = Field(
        None, ge=1, description="PyTorch threads (default: PyTorch's choice)"
    )
    shutdown_timeout: float = Field(
        30.0,
        ge=0.0,
        allow_inf_nan=False,
        description="on SIGTERM, seconds to wait for the requests in flight",
    )
    access_log: bool = Field(False, description="log every request")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="the server's log level"
    )

    @model_validator(mode="after")
    def _check(self) -> ServeConfig:
        for name in ("source_lang", "target_lang"):
            code = getattr(self, name)
            if code and any(c.isspace() for c in code):
                raise ValueError(f"serve.{name} must be a language code such as 'en', not {code!r}")
        return self
