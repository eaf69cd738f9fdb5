"""One SentencePiece-8k joint EN-FR data set for every system in the head-to-head benchmark.

Our toolkit's `seq2seq prepare --vocab bpe --joint --src-vocab-size 8000` trains the SentencePiece
model once and writes our data directory. The peers get the same pieces as pre-tokenised text
(pieces separated by spaces) and a vocabulary file listing the same 8k pieces, so all three
systems see identical subword sequences; their outputs are turned back into text with the same
SentencePiece model before scoring against the raw references.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm

ROOT = Path(__file__).resolve().parents[2]
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>", "<s>", "</s>")
SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}


@dataclass
class PeerData:
    """Paths of the shared data: our data dir, the piece files and the raw test references."""

    ours: Path  # our `prepare` output
    pieces: Path  # <split>.en / <split>.fr, space-separated pieces
    sp_model: Path  # the SentencePiece model, as a file
    vocab: Path  # one piece per line (specials excluded), for the peers
    test_src_raw: Path  # raw test_2016_flickr.en (plain text)
    test_ref_raw: Path  # raw test_2016_flickr.fr (plain text)
    mean_tgt_tokens: float  # training target pieces per sentence, + 1 for the end symbol


def raw_file(split: str, lang: str) -> Path:
    return MULTI30K / f"{SPLITS[split]}.{lang}.gz"


def read_gz(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


def prepare_ours(out: Path, python: str = sys.executable) -> None:
    """Train the joint 8k SentencePiece model and write our data dir with `seq2seq prepare`."""
    if (out / "manifest.json").exists():
        return
    cmd = [python, "-m", "seq2seq.cli", "prepare", "--vocab", "bpe", "--joint"]
    cmd += ["--src-vocab-size", "8000", "--out", str(out)]
    for split, flag in (("train", ""), ("valid", "valid-"), ("test", "test-")):
        cmd += [
            f"--{flag}src",
            str(raw_file(split, "en")),
            f"--{flag}tgt",
            str(raw_file(split, "fr")),
        ]
    subprocess.run(cmd, check=True)


def sp_proto(ours: Path) -> bytes:
    """The SentencePiece model proto that our vocabulary file carries (base64 in the JSON)."""
    vocab = json.loads((ours / "tgt.vocab.json").read_text(encoding="utf-8"))
    return base64.b64decode(vocab["model"])


def peer_vocab(processor: spm.SentencePieceProcessor) -> list[str]:
    """The model's pieces without the control symbols (each peer adds its own specials)."""
    pieces = (processor.id_to_piece(i) for i in range(processor.get_piece_size()))
    return [p for p in pieces if p not in SPECIALS]


def encode_lines(
    processor: spm.SentencePieceProcessor, lines: list[str], reverse: bool = False
) -> list[str]:
    """Raw sentences -> space-separated pieces (optionally in reverse order, paper §3.3)."""
    out = []
    for pieces in processor.encode(lines, out_type=str):
        out.append(" ".join(reversed(pieces) if reverse else pieces))
    return out


def decode_lines(processor: spm.SentencePieceProcessor, lines: list[str]) -> list[str]:
    """A peer's piece output -> detokenised text."""
    return [processor.decode_pieces(line.split()) for line in lines]


def prepare_all(work: Path, reverse_peer_source: bool = False) -> PeerData:
    """Write (once) our data dir, the SentencePiece model, the piece files and the vocabulary."""
    ours, pieces = work / "data" / "ours", work / "data" / "pieces"
    prepare_ours(ours)
    pieces.mkdir(parents=True, exist_ok=True)
    sp_model = work / "data" / "spm.model"
    sp_model.write_bytes(sp_proto(ours))
    processor = spm.SentencePieceProcessor(model_file=str(sp_model))
    vocab = work / "data" / "vocab.txt"
    vocab.write_text("\n".join(peer_vocab(processor)) + "\n", encoding="utf-8")
    tgt_lengths: list[int] = []
    for split in SPLITS:
        for lang in ("en", "fr"):
            lines = read_gz(raw_file(split, lang))
            if split == "test":
                (work / "data" / f"test.{lang}").write_text("\n".join(lines) + "\n", "utf-8")
            encoded = encode_lines(processor, lines, reverse=reverse_peer_source and lang == "en")
            if split == "train" and lang == "fr":
                tgt_lengths = [len(line.split()) + 1 for line in encoded]
            (pieces / f"{split}.{lang}").write_text("\n".join(encoded) + "\n", "utf-8")
    return PeerData(
        ours=ours,
        pieces=pieces,
        sp_model=sp_model,
        vocab=vocab,
        test_src_raw=work / "data" / "test.en",
        test_ref_raw=work / "data" / "test.fr",
        mean_tgt_tokens=sum(tgt_lengths) / len(tgt_lengths),
    )
