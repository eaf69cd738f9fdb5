"""Vocabularies: map text to token ids and back.

Three kinds share one interface (the contract in docs/ARCHITECTURE.md):

- `WordVocab`, the paper's: whitespace tokens, the K most frequent words of the training side kept
  and every other word mapped to ``<unk>`` (Sutskever et al. 2014, §3.1: 160,000 source and 80,000
  target words). Ties in frequency are broken by the word's code points, so the same corpus always
  gives the same vocabulary. With ``split_punct`` (for raw, untokenised text such as Multi30k's)
  punctuation is split off words first, marked with a joiner so that decoding restores the text
  exactly: ``"l'homme, assis."`` -> ``l'￭ homme ￭, assis ￭.``.
- `CharVocab`: one token per character, for words read letter by letter (grapheme to phoneme) or
  scripts without spaces between words. A space is the visible token ``▁`` (U+2581, as in
  SentencePiece), so ``"Hi, 너"`` -> ``H i , ▁ 너`` and decoding restores the text; runs of spaces
  count as one. The K most frequent characters are kept (ties: smaller code point first), others
  are ``<unk>``. A literal ``▁`` in the text reads as a space.
- `SentencePieceVocab`: BPE or unigram subwords trained with the sentencepiece library; the model
  proto stays in memory and travels inside `to_dict()`, so a checkpoint needs no side file.

Every vocabulary has ``<pad>=0, <unk>=1, <bos>=2, <eos>=3``. `encode` adds no BOS/EOS; `decode`
drops every special except ``<unk>``.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from seq2seq.data.io import AtomicTextFile
from seq2seq.errors import DataError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
FORMAT_VERSION = 1
SPACE = "\u2581"  # ▁: a character vocabulary's token for the space between words
JOINER = "\uffed"  # ￭: "no space on this side", as in OpenNMT's tokenizer's joiner annotation
# A word (letters, digits, underscore) with an optional closing apostrophe (French l', qu'), or
# any single other non-space character.
_PIECE = re.compile(r"\w+['’]?|[^\w\s]")


def split_punctuation(text: str) -> list[str]:
    """Whitespace tokens with punctuation split off and joiners where there was no space.

    A punctuation mark attached to what precedes it gets a leading joiner (``￭.``); one attached
    to what follows gets a trailing joiner (``(￭``); a word ending in an apostrophe that is glued
    to the next word gets a trailing joiner too (``l'￭ homme``). Words never carry a joiner
    otherwise, so "chose" and "chose." share the entry "chose". `join_punctuation` inverts it.
    """
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
    """Tokens of `split_punctuation` (or a model's output of them) back to text."""
    text = " ".join(tokens).replace(JOINER + " ", "").replace(" " + JOINER, "")
    return text.replace(JOINER, "")


class Vocab:
    """Common interface; see `WordVocab`, `CharVocab` and `SentencePieceVocab`."""

    kind: ClassVar[str] = ""
    pad_id: ClassVar[int] = PAD_ID
    unk_id: ClassVar[int] = UNK_ID
    bos_id: ClassVar[int] = BOS_ID
    eos_id: ClassVar[int] = EOS_ID
    lowercase: bool = False

    def __len__(self) -> int:
        raise NotImplementedError

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Encode many sentences at once (faster than a loop for subwords)."""
        return [self.encode(t) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def id_to_token(self, index: int) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # unhashable, as the data model spells it

    def save(self, path: str | Path) -> None:
        """Write `to_dict()` as JSON, atomically (temporary file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with AtomicTextFile(path) as handle:
            json.dump(self.to_dict(), handle, ensure_ascii=False)

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read a vocabulary written by `save`; on a subclass, also check its kind."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"vocabulary file {path} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DataError(
                f"vocabulary file {path} is not a readable JSON vocabulary ({err})"
            ) from None
        vocab = vocab_from_dict(data, source=str(path))
        if cls is not Vocab and not isinstance(vocab, cls):
            raise DataError(
                f"vocabulary file {path} holds a {vocab.kind} vocabulary, not a {cls.kind} one"
            )
        return vocab


class TokenListVocab(Vocab):
    """A vocabulary that is a list of tokens in id order, specials first, and their index: the
    half that the word and the character vocabularies share."""

    _tokens: list[str]
    _index: dict[str, int]

    def __len__(self) -> int:
        return len(self._tokens)

    @property
    def tokens(self) -> list[str]:
        """Every token in id order, specials first (a word's id is its frequency rank + 4)."""
        return list(self._tokens)

    def detokenize(self, tokens: Iterable[str]) -> str:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        index = self._index
        return [index.get(tok, UNK_ID) for tok in self.tokenize(text)]

    def id_to_token(self, index: int) -> str:
        return self._tokens[index]

    def decode(self, ids: Iterable[int]) -> str:
        tokens = self._tokens
        return self.detokenize(
            tokens[i] for i in map(int, ids) if i == UNK_ID or i >= len(SPECIALS)
        )


class WordVocab(TokenListVocab):
    """The K most frequent whitespace tokens plus the four specials (paper §3.1)."""

    kind: ClassVar[str] = "word"

    def __init__(
        self, words: Sequence[str], lowercase: bool = False, split_punct: bool = False
    ) -> None:
        """`words` are the non-special tokens in id order (ids 4, 5, ...)."""
        self.lowercase = lowercase
        self.split_punct = split_punct
        self._tokens: list[str] = list(SPECIALS) + list(words)
        # Only <unk> of the specials is reachable from text: a literal "<eos>" must not end a sentence.
        self._index: dict[str, int] = {UNK: UNK_ID}
        for i, word in enumerate(words, start=len(SPECIALS)):
            if word in SPECIALS or word in self._index:
                raise DataError(f"word vocabulary lists '{word}' twice or as a special token")
            self._index[word] = i

    @staticmethod
    def words_of(text: str, lowercase: bool = False, split_punct: bool = False) -> list[str]:
        """The tokens a word vocabulary sees in `text`."""
        text = text.lower() if lowercase else text
        return split_punctuation(text) if split_punct else text.split()

    @staticmethod
    def count(
        lines: Iterable[str], lowercase: bool = False, split_punct: bool = False
    ) -> Counter[str]:
        """Running-token frequencies of a corpus side."""
        counts: Counter[str] = Counter()
        for line in lines:
            counts.update(WordVocab.words_of(line, lowercase, split_punct))
        return counts

    @classmethod
    def build(
        cls,
        counts: Mapping[str, int],
        max_size: int,
        lowercase: bool = False,
        split_punct: bool = False,
    ) -> WordVocab:
        """Keep the `max_size` most frequent words; ties go to the smaller string (code points)."""
        if max_size < 1:
            raise DataError(f"a word vocabulary needs at least one word, not max_size={max_size}")
        ranked = sorted(
            ((w, c) for w, c in counts.items() if w not in SPECIALS), key=lambda wc: (-wc[1], wc[0])
        )
        return cls([w for w, _ in ranked[:max_size]], lowercase, split_punct)

    @classmethod
    def from_lines(
        cls, lines: Iterable[str], max_size: int, lowercase: bool = False, split_punct: bool = False
    ) -> WordVocab:
        return cls.build(cls.count(lines, lowercase, split_punct), max_size, lowercase, split_punct)

    def tokenize(self, text: str) -> list[str]:
        return self.words_of(text, self.lowercase, self.split_punct)

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Tokens (words, or `<unk>` replaced by source words) back to text."""
        return join_punctuation(tokens) if self.split_punct else " ".join(tokens)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": FORMAT_VERSION,
            "lowercase": self.lowercase,
            "split_punct": self.split_punct,
            "words": self._tokens[len(SPECIALS) :],
        }


class CharVocab(TokenListVocab):
    """The K most frequent characters plus the four specials; a space is the token ``▁``."""

    kind: ClassVar[str] = "char"

    def __init__(self, chars: Sequence[str], lowercase: bool = False) -> None:
        """`chars` are the non-special tokens (single characters) in id order (ids 4, 5, ...)."""
        self.lowercase = lowercase
        self._tokens: list[str] = list(SPECIALS) + list(chars)
        self._index: dict[str, int] = {}
        for i, char in enumerate(chars, start=len(SPECIALS)):
            if len(char) != 1 or char in self._index:
                raise DataError(f"character vocabulary lists '{char}' twice or as a string")
            self._index[char] = i

    @staticmethod
    def chars_of(text: str, lowercase: bool = False) -> list[str]:
        """The tokens a character vocabulary sees in `text`: ``"a b"`` -> ``a ▁ b``."""
        text = text.lower() if lowercase else text
        return list(SPACE.join(text.replace(SPACE, " ").split()))

    @staticmethod
    def count(lines: Iterable[str], lowercase: bool = False) -> Counter[str]:
        """Character frequencies of a corpus side (spaces counted as ``▁``)."""
        counts: Counter[str] = Counter()
        for line in lines:
            counts.update(CharVocab.chars_of(line, lowercase))
        return counts

    @classmethod
    def build(cls, counts: Mapping[str, int], max_size: int, lowercase: bool = False) -> CharVocab:
        """Keep the `max_size` most frequent characters; ties go to the smaller code point."""
        if max_size < 1:
            raise DataError(f"a character vocabulary needs at least one entry, not {max_size}")
        ranked = sorted(
            ((c, n) for c, n in counts.items() if len(c) == 1), key=lambda cn: (-cn[1], cn[0])
        )
        return cls([c for c, _ in ranked[:max_size]], lowercase)

    @classmethod
    def from_lines(cls, lines: Iterable[str], max_size: int, lowercase: bool = False) -> CharVocab:
        return cls.build(cls.count(lines, lowercase), max_size, lowercase)

    def tokenize(self, text: str) -> list[str]:
        return self.chars_of(text, self.lowercase)

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Characters (or `<unk>`, or source words put in its place) back to text."""
        return "".join(tokens).replace(SPACE, " ").strip()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": FORMAT_VERSION,
            "lowercase": self.lowercase,
            "chars": self._tokens[len(SPECIALS) :],
        }


ModelType = Literal["bpe", "unigram"]


class SentencePieceVocab(Vocab):
    """Subword units from a SentencePiece model held in memory (Kudo & Richardson 2018)."""

    kind: ClassVar[str] = "sentencepiece"

    def __init__(
        self, model_proto: bytes, model_type: str = "bpe", lowercase: bool = False
    ) -> None:
        """`model_type` and `lowercase` describe how the proto was trained (kept for reports)."""
        import sentencepiece as spm

        self._proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(self._proto)
        except (RuntimeError, OSError) as err:
            raise DataError(f"the SentencePiece model is not valid ({err})") from None
        ids = (self._sp.pad_id(), self._sp.unk_id(), self._sp.bos_id(), self._sp.eos_id())
        if ids != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise DataError(
                f"SentencePiece model has special ids (pad, unk, bos, eos)={ids}, expected (0, 1, 2, 3)"
            )
        self.model_type = model_type
        self.lowercase = lowercase  # applied by the model's own normaliser (nmt_nfkc_cf)

    @classmethod
    def train(
        cls,
        sentences: Iterable[str],
        vocab_size: int,
        model_type: ModelType = "bpe",
        lowercase: bool = False,
        character_coverage: float = 1.0,
        byte_fallback: bool = False,
        sample_size: int = 1_000_000,
        seed: int = 1,
        threads: int = 1,
    ) -> SentencePieceVocab:
        """Train a model on `sentences` (at most `sample_size` of them, sampled with `seed`)."""
        import sentencepiece as spm

        if model_type not in ("bpe", "unigram"):
            raise DataError(f"SentencePiece model type must be bpe or unigram, not '{model_type}'")
        spm.set_random_generator_seed(seed)
        buffer = io.BytesIO()
        options: dict[str, Any] = dict(
            model_type=model_type,
            vocab_size=vocab_size,
            pad_id=PAD_ID,
            unk_id=UNK_ID,
            bos_id=BOS_ID,
            eos_id=EOS_ID,
            pad_piece=PAD,
            unk_piece=UNK,
            bos_piece=BOS,
            eos_piece=EOS,
            unk_surface=UNK,
            character_coverage=character_coverage,
            byte_fallback=byte_fallback,
            normalization_rule_name="nmt_nfkc_cf" if lowercase else "nmt_nfkc",
            input_sentence_size=sample_size,
            shuffle_input_sentence=True,
            num_threads=threads,
            minloglevel=2,
        )
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences), model_writer=buffer, **options
            )
        except RuntimeError as err:
            raise DataError(f"SentencePiece training failed: {_sp_reason(err)}") from None
        return cls(buffer.getvalue(), model_type=model_type, lowercase=lowercase)

    def __reduce__(self):  # the C++ processor does not pickle; rebuild it from the proto
        return (SentencePieceVocab, (self._proto, self.model_type, self.lowercase))

    @property
    def model_proto(self) -> bytes:
        return self._proto

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": FORMAT_VERSION,
            "model_type": self.model_type,
            "lowercase": self.lowercase,
            "model": base64.b64encode(self._proto).decode("ascii"),
        }


def _sp_reason(err: RuntimeError) -> str:
    """SentencePiece errors start with a source location; keep the sentence for people."""
    text = str(err)
    if "] " in text:
        text = text.split("] ", 1)[1]
    return text.rstrip(".")


def vocab_from_dict(data: Mapping[str, Any], source: str = "vocabulary data") -> Vocab:
    """Rebuild a `WordVocab`, `CharVocab` or `SentencePieceVocab` from its `to_dict()`."""
    if not isinstance(data, Mapping):
        raise DataError(f"{source} is not a vocabulary (expected a JSON object)")
    kind = data.get("kind")
    try:
        if kind == WordVocab.kind:
            return WordVocab(
                list(data["words"]),
                lowercase=bool(data["lowercase"]),
                split_punct=bool(data["split_punct"]),
            )
        if kind == CharVocab.kind:
            return CharVocab(list(data["chars"]), lowercase=bool(data["lowercase"]))
        if kind == SentencePieceVocab.kind:
            return SentencePieceVocab(
                base64.b64decode(data["model"], validate=True),
                model_type=str(data["model_type"]),
                lowercase=bool(data["lowercase"]),
            )
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(
            f"{source} is an incomplete {kind} vocabulary ({type(err).__name__}: {err})"
        ) from None
    raise DataError(
        f"{source} has unknown vocabulary kind {kind!r} (expected 'word', 'char' or 'sentencepiece')"
    )
