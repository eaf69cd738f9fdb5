"""A synthetic translation task with real structure, for the demo and the tests (no download).

The source is an English-like language: subject, verb, object and an optional prepositional
phrase, noun phrases with articles and adjectives, plural nouns. The target is a verb-final
language that differs in four ways a model must learn:

- word order: subject, prepositional phrase, object, verb (SOV; the preposition follows its noun);
- inside a noun phrase the order is reversed: noun, adjectives, article;
- plural is a separate word after the noun (``tachi``);
- the verb agrees with a plural subject, seen at the other end of the sentence (``masu``).

    the big dog sees a red ball near the tree
    inu ooki ra ki ra chikaku tama akai na miru
"""

from __future__ import annotations

import random

NOUNS = {
    "dog": "inu", "cat": "neko", "bird": "tori", "horse": "uma", "child": "ko", "man": "otoko",
    "woman": "onna", "girl": "shojo", "boy": "shonen", "ball": "tama", "tree": "ki", "house": "ie",
}  # fmt: skip
PLURALS = {"child": "children", "man": "men", "woman": "women"}
ADJECTIVES = {
    "big": "ooki", "small": "chisai", "red": "akai", "blue": "aoi",
    "old": "furui", "young": "wakai", "happy": "ureshii", "sad": "kanashii",
}  # fmt: skip
VERBS = {
    "sees": "miru", "likes": "suki", "chases": "ou", "follows": "tsuku",
    "finds": "mitsu", "holds": "motsu", "pushes": "osu", "watches": "nagame",
}  # fmt: skip
ARTICLES = {"the": "ra", "a": "na"}
PREPOSITIONS = {"near": "chikaku", "under": "shita", "behind": "ushiro", "with": "to"}


def _noun_phrase(rng: random.Random) -> tuple[list[str], list[str], bool]:
    noun = rng.choice(sorted(NOUNS))
    plural = rng.random() < 0.3
    article = "the" if plural else rng.choice(sorted(ARTICLES))
    adjectives = rng.sample(sorted(ADJECTIVES), k=rng.choice([0, 0, 1, 1, 2]))
    surface = PLURALS.get(noun, noun + "s") if plural else noun
    src = [article, *adjectives, surface]
    tgt = (
        [NOUNS[noun]]
        + (["tachi"] if plural else [])
        + [ADJECTIVES[a] for a in reversed(adjectives)]
    )
    return src, tgt + [ARTICLES[article]], plural


def _plural_verb(verb: str) -> str:
    return verb[:-2] if verb.endswith(("ches", "shes")) else verb[:-1]


def make_pair(rng: random.Random) -> tuple[str, str]:
    """One (source, target) sentence pair."""
    subj_src, subj_tgt, plural = _noun_phrase(rng)
    obj_src, obj_tgt, _ = _noun_phrase(rng)
    verb = rng.choice(sorted(VERBS))
    src_verb = _plural_verb(verb) if plural else verb
    src = subj_src + [src_verb] + obj_src
    tgt_pp: list[str] = []
    if rng.random() < 0.5:
        prep = rng.choice(sorted(PREPOSITIONS))
        pp_src, pp_tgt, _ = _noun_phrase(rng)
        src += [prep, *pp_src]
        tgt_pp = pp_tgt + [PREPOSITIONS[prep]]
    tgt = subj_tgt + tgt_pp + obj_tgt + [VERBS[verb]] + (["masu"] if plural else [])
    return " ".join(src), " ".join(tgt)


def make_splits(sizes: dict[str, int], seed: int = 1) -> dict[str, list[tuple[str, str]]]:
    """Disjoint splits (no source sentence in two splits), e.g. {"train": 8000, "test": 300}."""
    rng = random.Random(seed)
    seen: set[str] = set()
    splits: dict[str, list[tuple[str, str]]] = {}
    for name, size in sizes.items():
        pairs: list[tuple[str, str]] = []
        while len(pairs) < size:
            src, tgt = make_pair(rng)
            if src not in seen:
                seen.add(src)
                pairs.append((src, tgt))
        splits[name] = pairs
    return splits
