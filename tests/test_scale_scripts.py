"""The data scripts of the scale benchmarks (benchmarks/scale): the generated large corpus stays a
corpus of aligned translations within the length limit, and the Tatoeba split keeps every copy of
an English sentence on one side. Both run on stand-ins built from the committed slice."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCALE = Path(__file__).resolve().parents[1] / "benchmarks" / "scale"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"scale_{name}", SCALE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()


@pytest.fixture
def shared(corpus, tmp_path) -> Path:
    """A ../shared/data stand-in: the slice's train split as Tatoeba's TSV (with a duplicated
    English sentence of two translations), its valid and test splits as Multi30k's train / val."""
    root = tmp_path / "shared"
    (root / "tatoeba-fra-eng").mkdir(parents=True)
    (root / "multi30k").mkdir()
    en, fr = _lines(corpus / "train.en.gz"), _lines(corpus / "train.fr.gz")
    rows = [f"{e}\t{f}\tCC-BY 2.0 (France) Attribution" for e, f in zip(en, fr, strict=True)]
    rows += [f"{en[0]}\tUne autre traduction.\tx", f"{en[0].upper()}\t{fr[0]}\tx"]
    with gzip.open(root / "tatoeba-fra-eng" / "fra-eng.tsv.gz", "wt", encoding="utf-8") as h:
        h.write("\n".join(rows) + "\n")
    for split, name in (("valid", "train"), ("test", "val")):
        for lang in ("en", "fr"):
            data = (corpus / f"{split}.{lang}.gz").read_bytes()
            (root / "multi30k" / f"{name}.{lang}.gz").write_bytes(data)
    return root


def test_generated_corpus_joins_whole_translation_pairs_within_80_words(shared, tmp_path):
    make_corpus = _load("make_corpus")
    info = make_corpus.generate(3000, tmp_path / "out", seed=4, shared=shared)
    en = (tmp_path / "out" / "train.en").read_text(encoding="utf-8").splitlines()
    fr = (tmp_path / "out" / "train.fr").read_text(encoding="utf-8").splitlines()
    assert len(en) == len(fr) == info["pairs"] == 3000
    assert max(len(s.split()) for s in en + fr) <= 80
    assert info["en_words_mean"] > 15  # joined: longer than any of the slice's sentences on average
    # every output pair is pool pairs joined in the same order on both sides
    pool_en, pool_fr = make_corpus.read_pool(shared)
    translations: dict[str, set[str]] = {}
    for e, f in zip(pool_en, pool_fr, strict=True):
        translations.setdefault(e, set()).add(f)
    for e, f in list(zip(en, fr, strict=True))[:200]:
        rest_en, rest_fr = e, f
        while rest_en:
            head = next(s for s in translations if rest_en == s or rest_en.startswith(s + " "))
            match = next(
                t for t in translations[head] if rest_fr == t or rest_fr.startswith(t + " ")
            )
            rest_en, rest_fr = rest_en[len(head) :].lstrip(), rest_fr[len(match) :].lstrip()
        assert rest_fr == ""
    again = make_corpus.generate(3000, tmp_path / "again", seed=4, shared=shared)
    assert (tmp_path / "again" / "train.fr").read_bytes() == (
        tmp_path / "out" / "train.fr"
    ).read_bytes()
    assert again["fr_words"] == info["fr_words"]


def test_tatoeba_split_keeps_an_english_sentence_on_one_side(shared, tmp_path):
    split = _load("tatoeba_split")
    source = shared / "tatoeba-fra-eng" / "fra-eng.tsv.gz"
    out = tmp_path / "split"
    assert (
        split.main(["--source", str(source), "--out", str(out), "--test", "300", "--valid", "200"])
        == 0
    )
    sides = {name: _lines(out / f"{name}.en.gz") for name in ("train", "valid", "test")}
    for name, lines in sides.items():
        assert len(lines) == len(_lines(out / f"{name}.fr.gz"))
    keys = {name: {s.casefold() for s in lines} for name, lines in sides.items()}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["valid"]
    assert not keys["valid"] & keys["test"]
    assert 300 <= len(sides["test"]) < 310 and 200 <= len(sides["valid"]) < 210
    assert sum(map(len, sides.values())) == 2002  # every pair somewhere
    first = _lines(source)[0].split("\t")[0]
    holder = next(n for n, lines in sides.items() if first in lines)
    copies = sum(r.split("\t")[0].casefold() == first.casefold() for r in _lines(source))
    assert copies >= 3  # the slice's own copies, and the two added above
    assert sum(s.casefold() == first.casefold() for s in sides[holder]) == copies
    record = json.loads((out / "split.json").read_text())
    assert record["pairs"] == {name: len(lines) for name, lines in sides.items()}
    assert (
        split.main(
            [
                "--source",
                str(source),
                "--out",
                str(out),
                "--test",
                "300",
                "--valid",
                "200",
                "--check",
            ]
        )
        == 0
    )
