"""The exported vocabularies, read without the training package: the same tokens and ids as
seq2seq's data/vocab.py (word with optional punctuation splitting, character, SentencePiece).

Every vocabulary has <pad>=0, <unk>=1, <bos>=2, <eos>=3; `encode` adds no BOS/EOS; `decode`
drops every special except <unk>.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from seq2seq_runtime.errors import ModelDirError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPACE = "\u2581"
JOINER = "\uffed"
_PIECE = re.compile(r"\w+['’]?|[^\w\s]")


def split_punctuation(text: str) -> list[str]:
    """Whitespace tokens with punctuation split off, joiners where there was no space."""
    tokens: list[str] = []
    for chunk in text.split():
        pieces = _PIECE.findall(chunk)
        for i, piece in enumerate(pieces):
            if i > 0:
                if not (piece[0].isalnum() or piece[0] == "_"):
                    piece = JOINER + piece
                elif not tokens[-1].endswith(JOINER):
                    tokens[-1] += JOINER
            tokens.append(piece)
    return tokens


def join_punctuation(tokens: Iterable[str]) -> str:
    text = " ".join(tokens).replace(JOINER + " ", "").replace(" " + JOINER, "")
    return text.replace(JOINER, "")


class TokenList:
    """A word or character vocabulary: tokens in id order, specials first."""

    unk_id, eos_id, pad_id = UNK_ID, EOS_ID, PAD_ID

    def __init__(self, kind: str, tokens: Sequence[str], lowercase: bool, split: bool) -> None:
        self.kind = kind
        self.lowercase = lowercase
        self.split_punct = split
        self._tokens = list(SPECIALS) + list(tokens)
        self._index = {tok: i for i, tok in enumerate(self._tokens) if i >= len(SPECIALS)}
        if kind == "word":
            self._index[UNK] = UNK_ID

    def __len__(self) -> int:
        return len(self._tokens)

    def tokenize(self, text: str) -> list[str]:
        text = text.lower() if self.lowercase else text
        if self.kind == "char":
            return list(SPACE.join(text.replace(SPACE, " ").split()))
        return split_punctuation(text) if self.split_punct else text.split()

    def encode(self, text: str) -> list[int]:
        return [self._index.get(tok, UNK_ID) for tok in self.tokenize(text)]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def id_to_token(self, index: int) -> str:
        return self._tokens[index]

    def detokenize(self, tokens: Iterable[str]) -> str:
        if self.kind == "char":
            return "".join(tokens).replace(SPACE, " ").strip()
        return join_punctuation(tokens) if self.split_punct else " ".join(tokens)

    def decode(self, ids: Iterable[int]) -> str:
        tokens = self._tokens
        return self.detokenize(
            tokens[i] for i in map(int, ids) if i == UNK_ID or i >= len(SPECIALS)
        )


class SentencePiece:
    """Subwords from a SentencePiece .model file."""

    kind = "sentencepiece"
    unk_id, eos_id, pad_id = UNK_ID, EOS_ID, PAD_ID

    def __init__(self, path: Path) -> None:
        import sentencepiece as spm

        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(path.read_bytes())
        except (RuntimeError, OSError) as err:
            raise ModelDirError(f"SentencePiece model {path} is not readable ({err})") from None

    def __len__(self) -> int:
        return self._sp.get_piece_size()

    def tokenize(self, text: str) -> list[str]:
        return self._sp.encode(text, out_type=str)

    def encode(self, text: str) -> list[int]:
        return self._sp.encode(text, out_type=int)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self._sp.encode(list(texts), out_type=int)

    def id_to_token(self, index: int) -> str:
        return self._sp.id_to_piece(int(index))

    def decode(self, ids: Iterable[int]) -> str:
        return self._sp.decode([int(i) for i in ids])


def load_vocab(folder: Path, entry: dict[str, Any]) -> TokenList | SentencePiece:
    """The vocabulary the manifest's entry {"kind", "file"} names."""
    path = folder / str(entry.get("file"))
    if not path.is_file():
        raise ModelDirError(f"vocabulary file {path} is missing from the exported model")
    if entry.get("kind") == "sentencepiece":
        return SentencePiece(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["kind"] == "word":
            return TokenList("word", data["words"], bool(data["lowercase"]), data["split_punct"])
        if data["kind"] == "char":
            return TokenList("char", data["chars"], bool(data["lowercase"]), False)
    except (ValueError, KeyError, TypeError) as err:
        raise ModelDirError(f"vocabulary file {path} is not a vocabulary ({err})") from None
    raise ModelDirError(f"vocabulary file {path} has unknown kind {data.get('kind')!r}")
