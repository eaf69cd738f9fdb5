"""`export_onnx`: checkpoints -> a folder the PyTorch-free runtime reads (docs/deploy.md).

    out/manifest.json            format version, task, languages, members, vocabularies, decode
    out/model0.encoder.onnx      src (B, S), src_lengths (B,) -> the decoder's initial state
    out/model0.step.onnx         tokens (N,), state -> log_probs (N, V), state[, attn (N, S)]
    out/model1.*.onnx            further ensemble members (paper §3.6), one pair each
    out/source.model | source.json, target.model | target.json   the vocabularies

Graphs come from torch.onnx's dynamo exporter (`torch.export`, the path PyTorch keeps; the
TorchScript one is deprecated) with dynamic batch and length axes. Two things it does not do
are mended on the ONNX graph: the encoder's RNN nodes get the source lengths as
`sequence_lens` (packing does not export; ONNX's LSTM / GRU / RNN take lengths natively, with
the packed result), and a tanh RNN, which the exporter would unroll over a fixed length, is
exported as ONNX's RNN operator by a translation of our own (`_rnn_tanh`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from seq2seq.checkpoint import load_model, read_languages, read_task
from seq2seq.data.vocab import SentencePieceVocab
from seq2seq.errors import CheckpointError, ConfigError
from seq2seq.export.graphs import STATE_MEMORY, EncoderGraph, StepGraph, state_names
from seq2seq.export.rnn import RNN_TRANSLATIONS
from seq2seq.model.seq2seq import Seq2Seq

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
OPSET = 18
RNN_OPS = ("LSTM", "GRU", "RNN")


def export_onnx(paths: Sequence[str | Path], out: str | Path, int8: bool = False) -> dict[str, Any]:
    """Write the graphs, vocabularies and manifest of one checkpoint (or an ensemble) to `out`;
    with `int8`, dynamically quantised graphs. Returns the manifest."""
    from seq2seq.decode.ensemble import check_vocabularies

    if not paths:
        raise CheckpointError("no checkpoint given; pass at least one checkpoint path")
    loaded = [load_model(p) for p in paths]
    models = [m for m, _, _, _ in loaded]
    configs = [c for _, c, _, _ in loaded]
    check_vocabularies(paths, [x[2] for x in loaded], [x[3] for x in loaded])
    for path, model in zip(paths, models, strict=True):
        _check_exportable(path, model)
    if len({c.data.reverse_source for c in configs}) > 1:
        raise CheckpointError("ensemble members disagree on data.reverse_source; export one")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    members = []
    for i, model in enumerate(models):
        members.append(_export_member(model, out, f"model{i}", int8))
    src_vocab, tgt_vocab = loaded[0][2], loaded[0][3]
    src_lang, tgt_lang = read_languages(paths[0])
    manifest = {
        "format_version": FORMAT_VERSION,
        "task": read_task(paths[0]).name,
        "source_lang": src_lang,
        "target_lang": tgt_lang,
        "precision": "int8" if int8 else "fp32",
        "reverse_source": configs[0].data.reverse_source,
        "checkpoints": [Path(p).name for p in paths],
        "members": members,
        "source_vocab": _write_vocab(src_vocab, out, "source"),
        "target_vocab": _write_vocab(tgt_vocab, out, "target"),
        "decode": configs[0].decode.model_dump(mode="json"),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (out / "manifest.json").write_text(text, encoding="utf-8")
    return manifest


def _check_exportable(path: str | Path, model: Seq2Seq) -> None:
    """Refuse, in one sentence and before anything is written, a model the graphs cannot hold."""
    if model.cfg.acoustic:
        raise ConfigError(
            f"checkpoint {path} is a speech model (model.encoder '{model.cfg.encoder}' reads audio "
            "frames), which the ONNX export does not cover yet; transcribe with `seq2seq "
            "transcribe --checkpoint`"
        )
    if getattr(model.cfg, "copy", False):
        raise ConfigError(
            f"checkpoint {path} has model.copy, which the ONNX export does not cover yet; "
            "translate it with `seq2seq translate --checkpoint`"
        )


def _export_member(model: Seq2Seq, out: Path, name: str, int8: bool) -> dict[str, Any]:
    """The encoder and step graphs of one model; their file names and what the runtime needs."""
    cfg = model.cfg
    names = state_names(model)
    encoder_file, step_file = f"{name}.encoder.onnx", f"{name}.step.onnx"
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        encoder_tmp, step_tmp = Path(tmp) / encoder_file, Path(tmp) / step_file
        _export_encoder(model, names, encoder_tmp)
        step_outputs = _export_step(model, names, step_tmp)
        if int8:
            from seq2seq.export.quantize import quantize_int8

            quantize_int8(encoder_tmp)
            quantize_int8(step_tmp)
        os.replace(encoder_tmp, out / encoder_file)
        os.replace(step_tmp, out / step_file)
    return {
        "encoder": encoder_file,
        "step": step_file,
        "state": names,
        "step_outputs": step_outputs,
        "cell": cfg.cell,
        "context": cfg.context,
        "attention": cfg.attention if cfg.context == "attention" else None,
        "input_feeding": cfg.context == "attention" and cfg.input_feeding,
        "bidirectional": cfg.bidirectional,
        "hidden_size": model.decoder.hidden_size,
        "memory_size": model.encoder.output_size,
        "target_vocab_size": int(model.generator.out_features),
    }


def _example_source(model: Seq2Seq) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded batch of 3 sources (lengths 7, 5, 2): no axis of size 0 or 1 to specialise."""
    vocab = int(cast(torch.nn.Embedding, model.encoder.embedding).num_embeddings)
    src = torch.randint(4, max(5, vocab), (3, 7)).clamp(max=vocab - 1)
    return src, torch.tensor([7, 5, 2])


def _export_encoder(model: Seq2Seq, names: list[str], path: Path) -> None:
    batch, src_len = torch.export.Dim("batch"), torch.export.Dim("src_len")
    src, lengths = _example_source(model)
    _run_exporter(
        EncoderGraph(model),
        (src, lengths),
        path,
        ["src", "src_lengths"],
        names,
        ({0: batch, 1: src_len}, {0: batch}),
    )
    _give_lengths(path)
    _fold_constants(path)


def _export_step(model: Seq2Seq, names: list[str], path: Path) -> list[str]:
    """Export one decoder step; returns its output names."""
    src, lengths = _example_source(model)
    with torch.no_grad():
        state = EncoderGraph(model)(src, lengths)
    graph = StepGraph(model)
    tokens = torch.tensor([5, 6, 7])
    with torch.no_grad():
        count = len(graph(tokens, *state))
    outputs = ["log_probs"] + [f"{n}_out" for n in graph.rows]
    outputs += ["attn"] if count > len(outputs) else []
    rows, src_len = torch.export.Dim("rows"), torch.export.Dim("src_len")
    shapes: dict[str, Any] = {}
    for name in names:
        if name in ("h", "c"):
            shapes[name] = {1: rows}
        elif name in STATE_MEMORY:
            shapes[name] = {0: rows, 1: src_len}
        else:
            shapes[name] = {0: rows}
    dims = ({0: rows}, tuple(shapes[name] for name in names))  # forward(tokens, *state)
    _run_exporter(graph, (tokens, *state), path, ["tokens", *names], outputs, dims)
    _free_shapes_of(path)
    _add_top_k(path)
    _fold_constants(path)
    return outputs + list(TOP_K_OUTPUTS)


def _run_exporter(
    module: torch.nn.Module,
    args: tuple[torch.Tensor, ...],
    path: Path,
    inputs: list[str],
    outputs: list[str],
    shapes: tuple[Any, ...],
) -> None:
    """torch.onnx.export (dynamo) to one self-contained file, quietly."""
    module.eval()
    with warnings.catch_warnings(), _quiet_exporter():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            args,
            dynamo=True,
            input_names=inputs,
            output_names=outputs,
            dynamic_shapes=shapes,
            opset_version=OPSET,
            custom_translation_table=RNN_TRANSLATIONS,
            verbose=False,
            optimize=True,
        )
    assert program is not None
    program.save(str(path), external_data=False)
    _check_dynamic(path, inputs, shapes)


def _check_dynamic(path: Path, inputs: list[str], shapes: tuple[Any, ...]) -> None:
    """Fail where the exporter fixed an axis meant to be dynamic (torch.onnx falls back to a
    static graph, quietly, when torch.export cannot keep an axis free)."""
    import onnx

    flat = [shapes[0]] + (list(shapes[1]) if isinstance(shapes[1], tuple) else [shapes[1]])
    axes = dict(zip(inputs, flat, strict=True))
    for graph_input in onnx.load(str(path), load_external_data=False).graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        for axis in axes.get(graph_input.name, {}):
            if dims[axis].HasField("dim_value"):
                raise RuntimeError(
                    f"the ONNX exporter fixed axis {axis} of {graph_input.name} in {path.name} "
                    f"to {dims[axis].dim_value}; the graph would not take other shapes"
                )


class _quiet_exporter:
    """The exporter logs its progress with emoji on stdout; keep it to the debug log."""

    def __enter__(self) -> None:
        self.level = logging.getLogger("torch.onnx").level
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        self.stdout = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)

    def __exit__(self, *exc: object) -> None:
        os.dup2(self.stdout, 1)
        os.close(self.stdout)
        logging.getLogger("torch.onnx").setLevel(self.level)


def _give_lengths(path: Path) -> None:
    """Every RNN node of the encoder graph reads `src_lengths` as its sequence_lens (int32), so
    ONNX Runtime runs each sentence to its own length: the packed computation."""
    import onnx

    graph_model = onnx.load(str(path))
    graph = graph_model.graph
    cast = onnx.helper.make_node(
        "Cast", ["src_lengths"], ["src_lengths_int32"], to=onnx.TensorProto.INT32
    )
    found = 0
    for node in graph.node:
        if node.op_type in RNN_OPS:
            inputs = list(node.input) + [""] * max(0, 5 - len(node.input))
            inputs[4] = "src_lengths_int32"
            del node.input[:]
            node.input.extend(inputs)
            found += 1
    if not found:
        raise RuntimeError(f"the exported encoder {path.name} has no RNN node to give lengths")
    graph.node.insert(0, cast)
    _free_shapes(graph_model)
    onnx.save(graph_model, str(path))


def _fold_constants(path: Path) -> None:
    """Compute once what depends only on the weights (the exporter reorders RNN gates with
    Slice / Concat nodes): ONNX Runtime's basic optimisations, which are portable (constant
    folding, redundant nodes), written back as plain ONNX. The RNN weights become initializers,
    which int8 quantisation needs, and a session starts without refolding them."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    folded = path.with_name(path.stem + ".folded.onnx")
    options.optimized_model_filepath = str(folded)
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    os.replace(folded, path)


TOP_K_OUTPUTS = ("word_log_probs", "word_ids", "special_log_probs")
SPECIALS = 4  # <pad>, <unk>, <bos>, <eos>: ids 0-3 of every vocabulary


def _add_top_k(path: Path) -> None:
    """Give the step graph an input `k` (1,) and the outputs a beam search ranks from, so that
    it need not copy and sort a whole (N, V) distribution per step:
    word_log_probs, word_ids (N, k): the k best tokens past the specials (ids - 4, best first);
    special_log_probs (N, 4): the specials' columns (<unk> and <eos> may be chosen).
    `log_probs` stays an output for ensembles, which average whole distributions."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph_model = onnx.load(str(path))
    graph = graph_model.graph
    graph.input.append(helper.make_tensor_value_info("k", TensorProto.INT64, [1]))
    for name, values in (
        ("topk_start", [SPECIALS]),
        ("topk_end", [2**62]),
        ("topk_zero", [0]),
        ("topk_axis", [1]),
    ):
        graph.initializer.append(numpy_helper.from_array(np.array(values, np.int64), name))
    graph.node.extend(
        [
            helper.make_node(
                "Slice", ["log_probs", "topk_start", "topk_end", "topk_axis"], ["topk_words"]
            ),
            helper.make_node(
                "TopK", ["topk_words", "k"], list(TOP_K_OUTPUTS[:2]), axis=1, largest=1, sorted=1
            ),
            helper.make_node(
                "Slice",
                ["log_probs", "topk_zero", "topk_start", "topk_axis"],
                [TOP_K_OUTPUTS[2]],
            ),
        ]
    )
    graph.output.extend(
        [
            helper.make_tensor_value_info(TOP_K_OUTPUTS[0], TensorProto.FLOAT, ["rows", "k"]),
            helper.make_tensor_value_info(TOP_K_OUTPUTS[1], TensorProto.INT64, ["rows", "k"]),
            helper.make_tensor_value_info(TOP_K_OUTPUTS[2], TensorProto.FLOAT, ["rows", SPECIALS]),
        ]
    )
    onnx.save(graph_model, str(path))


def _free_shapes_of(path: Path) -> None:
    import onnx

    graph_model = onnx.load(str(path))
    _free_shapes(graph_model)
    onnx.save(graph_model, str(path))


def _free_shapes(graph_model: Any) -> None:
    """Drop inferred intermediate shapes (the exporter fixes some length axes to the example's);
    ONNX Runtime infers them again from the real inputs."""
    del graph_model.graph.value_info[:]
    for output in graph_model.graph.output:
        shape = output.type.tensor_type.shape
        for i, dim in enumerate(shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 1:
                dim.Clear()
                dim.dim_param = f"{output.name}_{i}"


def _write_vocab(vocab: Any, out: Path, side: str) -> dict[str, str]:
    """A SentencePiece model as its .model file, a word or character vocabulary as JSON."""
    if isinstance(vocab, SentencePieceVocab):
        (out / f"{side}.model").write_bytes(vocab.model_proto)
        return {"kind": "sentencepiece", "file": f"{side}.model"}
    text = json.dumps(vocab.to_dict(), ensure_ascii=False)
    (out / f"{side}.json").write_text(text, encoding="utf-8")
    return {"kind": vocab.kind, "file": f"{side}.json"}


def remove_export(out: Path) -> None:
    """Remove a half-written export folder (a failed export leaves nothing behind)."""
    shutil.rmtree(out, ignore_errors=True)
