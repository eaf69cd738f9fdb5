"""The per-sentence extended vocabulary of a copy model (model/copy.py, See et al. 2017, §2.2).

For one pair, the target vocabulary's V ids come first; the k-th distinct source token that the
target vocabulary lacks gets id V + k. `copy_ids` gives each source token its extended id (a
source word the target vocabulary knows maps to its target id, so copying and generating it add
up) and turns a target token that is <unk> in the target vocabulary but occurs in the source into
its extended id. The map needs the tokens' strings: a word that is <unk> in the source vocabulary
has lost its string in the ids, so it is built from the text, one bucket at a time
(`batching.CopyCorpus`), or from the input sentence at translation time.

`decode_extended` turns output ids back into text, ids >= V into the source strings they copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from seq2seq.data.vocab import SPECIALS, UNK_ID, Vocab


def token_index(vocab: Vocab) -> dict[str, int]:
    """Every ordinary token of a vocabulary -> its id (the specials are never copied into)."""
    return {vocab.id_to_token(i): i for i in range(len(SPECIALS), len(vocab))}


def copy_ids(
    src_tokens: Sequence[str],
    tgt_index: dict[str, int],
    vocab_size: int,
    tgt_tokens: Sequence[str] = (),
    tgt_ids: Sequence[int] = (),
) -> tuple[list[int], list[int], list[str]]:
    """One pair's copy map: (extended id of each source token, the target ids in extended ids,
    the strings of the extra slots V, V + 1, ...). `tgt_ids` are `tgt_tokens` encoded."""
    extra: dict[str, int] = {}
    src_map = []
    for token in src_tokens:
        index = tgt_index.get(token)
        if index is None:
            index = extra.setdefault(token, vocab_size + len(extra))
        src_map.append(index)
    tgt_ext = [
        extra.get(token, UNK_ID) if index == UNK_ID else index
        for token, index in zip(tgt_tokens, tgt_ids, strict=True)
    ]
    return src_map, tgt_ext, list(extra)


def decode_extended(vocab: Vocab, ids: Iterable[int], extra: Sequence[str]) -> str:
    """Output ids -> text, where id V + k is the copied source string extra[k]."""
    ids = [int(i) for i in ids]
    size = len(vocab)
    if all(i < size for i in ids):
        return vocab.decode(ids)
    detokenize = getattr(vocab, "detokenize", None)
    if detokenize is not None:  # word and character vocabularies join tokens themselves
        tokens = [
            extra[i - size] if i >= size else vocab.id_to_token(i)
            for i in ids
            if i >= size or i == UNK_ID or i >= len(SPECIALS)
        ]
        return detokenize(tokens)
    pieces: list[str] = []  # subwords: decode each run of vocabulary ids, copies between them
    run: list[int] = []
    for i in ids + [-1]:
        if 0 <= i < size:
            run.append(i)
            continue
        if run:
            pieces.append(vocab.decode(run))
            run = []
        if i >= size:
            pieces.append(extra[i - size])
    return " ".join(p for p in pieces if p)
