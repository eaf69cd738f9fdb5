"""`seq2seq analyze <analysis>`: the paper's analyses as PNG plots and the CSV numbers behind them.

    length     BLEU by source sentence length, one line per system      (paper Fig. 3, left)
    rarity     BLEU by average word-frequency rank                      (paper Fig. 3, right)
    pca        2-D PCA of the encoder's sentence vectors for phrase groups  (paper Fig. 2)
    attention  attention heatmap of one sentence (models with attention)
    beams      BLEU and sentences/s for several beam sizes                 (paper §3.6)

Examples::

    seq2seq analyze length --src test.en --ref test.fr --system base=base.fr \\
        --checkpoint rev=runs/rev/best.safetensors --out analyses/
    seq2seq analyze rarity --src test.en --ref test.fr --system base=base.fr --train-src train.en
    seq2seq analyze pca --checkpoint best.safetensors --out analyses/
    seq2seq analyze attention --checkpoint att.safetensors --sentence "A dog runs." --out analyses/
    seq2seq analyze beams --checkpoint best.safetensors --src test.en --ref test.fr --out analyses/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, cast

from seq2seq.commands.options import (
    add_checkpoint,
    add_checkpoints,
    add_decode_settings,
    add_device,
    add_lowercase,
    add_named_checkpoints,
    add_test_set,
)
from seq2seq.errors import ConfigError


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got '{text}'"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="analysis", metavar="<analysis>", required=True)
    length = sub.add_parser("length", help="BLEU by source sentence length (Fig. 3 left)")
    _test_set_arguments(length)
    length.add_argument(
        "--buckets", type=_int_list, default=None, metavar="E1,E2,...",
        help="upper edges of the length buckets in words (default: 5,8,11,14,17,20,25,30)",
    )  # fmt: skip
    rarity = sub.add_parser("rarity", help="BLEU by average word-frequency rank (Fig. 3 right)")
    _test_set_arguments(rarity)
    rarity.add_argument(
        "--train-src", type=Path, default=None,
        help="training source file for the frequency list (default: the first checkpoint's "
        "word vocabulary, which is in frequency order)",
    )  # fmt: skip
    rarity.add_argument("--groups", type=int, default=10, help="equal-size groups (default 10)")

    pca = sub.add_parser("pca", help="2-D PCA of sentence vectors of phrase groups (Fig. 2)")
    add_checkpoint(pca)
    pca.add_argument(
        "--phrases", type=Path, default=None,
        help="file of 'group<TAB>phrase' lines (default: the phrase groups shipped with seq2seq)",
    )  # fmt: skip
    attention = sub.add_parser("attention", help="attention heatmap of one sentence")
    add_checkpoint(attention)
    attention.add_argument("--sentence", required=True, help="the source sentence to translate")
    add_decode_settings(attention, only=("beam_size",))

    beams = sub.add_parser("beams", help="BLEU and speed for several beam sizes (§3.6)")
    add_checkpoints(beams)
    add_test_set(beams)
    beams.add_argument(
        "--beam-sizes", type=_int_list, default=[1, 2, 4, 8, 12], metavar="K1,K2,...",
        help="beam sizes to try (default: 1,2,4,8,12)",
    )  # fmt: skip
    beams.add_argument("--limit", type=int, default=None, help="use the first N sentences only")
    add_decode_settings(beams, only=("batch_size",))
    add_lowercase(beams)
    for child in (length, rarity, pca, attention, beams):
        child.add_argument("--out", type=Path, default=Path("analyses"), help="output directory")
        add_device(child)


def _test_set_arguments(parser: argparse.ArgumentParser) -> None:
    add_test_set(parser)
    parser.add_argument(
        "--system", action="append", default=[], metavar="NAME=HYPFILE",
        help="a system's translations of --src (repeat for several systems)",
    )  # fmt: skip
    add_named_checkpoints(parser)
    add_decode_settings(parser, only=("beam_size", "batch_size"))
    add_lowercase(parser)


# ---------------------------------------------------------------------------------------------
# Systems: hypotheses files and checkpoints


def parse_named(item: str, flag: str) -> tuple[str, Path]:
    """'NAME=PATH' -> (NAME, PATH); a bare PATH is named after its file."""
    name, sep, path = item.partition("=")
    if not sep:
        return Path(item).stem, Path(item)
    if not name.strip() or not path.strip():
        raise ConfigError(f"{flag} '{item}' must look like NAME=PATH")
    return name.strip(), Path(path.strip())


def load_systems(args: argparse.Namespace, sources: list[str]) -> tuple[dict[str, list[str]], Any]:
    """{name: hypotheses}: every --system, then every --checkpoint (translated here).

    Also returns the first checkpoint's Translator (None without one), for its vocabulary.
    """
    from seq2seq.decode.translator import Translator
    from seq2seq.evaluate.scores import read_lines

    systems: dict[str, list[str]] = {}
    first = None
    named = [("--system", s) for s in args.system] + [("--checkpoint", c) for c in args.checkpoint]
    for flag, item in named:
        name, path = parse_named(item, flag)
        if name in systems:
            raise ConfigError(f"two systems are named '{name}'; give each --system a unique NAME")
        if flag == "--system":
            systems[name] = read_lines(path)
            continue
        translator = Translator.load(path, device=args.device)
        first = first or translator
        print(f"translating {len(sources):,} sentences with {name}", file=sys.stderr)
        systems[name] = cast(  # n_best 1: strings
            list[str],
            translator.translate(
                sources,
                beam_size=getattr(args, "decode_beam_size", None),
                n_best=1,
                batch_size=getattr(args, "decode_batch_size", None),
            ),
        )
    return systems, first


# ---------------------------------------------------------------------------------------------
# The analyses


def _test_set(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    from seq2seq.evaluate.scores import check_aligned, read_lines

    sources, references = read_lines(args.src), read_lines(args.ref)
    check_aligned({str(args.src): sources, str(args.ref): references})
    return sources, references


def run_length(args: argparse.Namespace) -> list[Path]:
    from seq2seq.evaluate.analyses import DEFAULT_LENGTH_EDGES, bleu_by_length
    from seq2seq.evaluate.plots import plot_bleu_by_length

    sources, references = _test_set(args)
    systems, _ = load_systems(args, sources)
    edges = args.buckets or DEFAULT_LENGTH_EDGES
    table = bleu_by_length(sources, references, systems, edges, args.lowercase)
    return _write(table, args.out / "bleu_by_length", plot_bleu_by_length, list(systems))


def run_rarity(args: argparse.Namespace) -> list[Path]:
    from seq2seq.evaluate.analyses import bleu_by_rarity, frequency_ranks, vocab_ranks
    from seq2seq.evaluate.plots import plot_bleu_by_rarity
    from seq2seq.evaluate.scores import read_lines

    sources, references = _test_set(args)
    systems, translator = load_systems(args, sources)
    if args.train_src is not None:
        ranks = frequency_ranks(read_lines(args.train_src), args.lowercase)
        tokenize = (lambda s: s.lower().split()) if args.lowercase else str.split
    elif translator is not None:
        ranks, tokenize = vocab_ranks(translator.src_vocab), translator.src_vocab.tokenize
    else:
        raise ConfigError(
            "the rarity analysis needs a frequency list: give --train-src, or a --checkpoint "
            "whose word vocabulary is used"
        )
    table = bleu_by_rarity(
        sources, references, systems, ranks, tokenize, args.groups, args.lowercase
    )
    return _write(table, args.out / "bleu_by_rarity", plot_bleu_by_rarity, list(systems))


def run_pca(args: argparse.Namespace) -> list[Path]:
    from seq2seq.decode.translator import Translator
    from seq2seq.evaluate.analyses import Table, pca_2d
    from seq2seq.evaluate.plots import plot_pca
    from seq2seq.evaluate.probes import default_phrases_path, read_phrases, sentence_vectors

    phrases = read_phrases(args.phrases or default_phrases_path())
    translator = Translator.load(args.checkpoint, device=args.device)
    vectors = sentence_vectors(translator, [p.text for p in phrases])
    coords, explained = pca_2d(vectors)
    rows = [[p.group, p.text, float(x), float(y)] for p, (x, y) in zip(phrases, coords)]
    table = Table(["group", "phrase", "pc1", "pc2"], rows)
    print(f"explained variance: PC1 {explained[0]:.1%}, PC2 {explained[1]:.1%}", file=sys.stderr)
    groups, texts = [p.group for p in phrases], [p.text for p in phrases]
    return _write(
        table, args.out / "pca", lambda _t, path: plot_pca(groups, texts, coords, explained, path)
    )


def run_attention(args: argparse.Namespace) -> list[Path]:
    from seq2seq.decode.translator import Translator
    from seq2seq.evaluate.analyses import Table
    from seq2seq.evaluate.plots import plot_attention
    from seq2seq.evaluate.probes import attention_map

    translator = Translator.load(args.checkpoint, device=args.device)
    amap = attention_map(translator, args.sentence, getattr(args, "decode_beam_size", None))
    print(f"translation: {amap.translation}", file=sys.stderr)
    rows = [[tok, *map(float, row)] for tok, row in zip(amap.output_tokens, amap.weights)]
    table = Table(["output \\ source", *amap.source_tokens], rows)
    return _write(
        table,
        args.out / "attention",
        lambda _t, path: plot_attention(amap.source_tokens, amap.output_tokens, amap.weights, path),
    )


def run_beams(args: argparse.Namespace) -> list[Path]:
    from seq2seq.decode.translator import Translator
    from seq2seq.evaluate.analyses import beam_sweep
    from seq2seq.evaluate.plots import plot_beams

    sources, references = _test_set(args)
    if args.limit is not None:
        if args.limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {args.limit}")
        sources, references = sources[: args.limit], references[: args.limit]
    translator = Translator.load(args.checkpoint, device=args.device)
    table = beam_sweep(
        translator,
        sources,
        references,
        args.beam_sizes,
        args.lowercase,
        getattr(args, "decode_batch_size", None),
    )
    return _write(table, args.out / "beams", lambda t, path: plot_beams(t, path))


def _write(table, stem: Path, plot, systems: list[str] | None = None) -> list[Path]:
    """stem.csv and stem.png; print the table so a terminal user sees the numbers at once."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = stem.with_suffix(".csv"), stem.with_suffix(".png")
    table.write_csv(csv_path)
    if systems is not None:
        plot(table, systems, png_path)
    else:
        plot(table, png_path)
    print(_format_table(table))
    return [csv_path, png_path]


def _format_table(table) -> str:
    def cell(value: Any) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    cells = [table.columns] + [[cell(v) for v in row] for row in table.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.columns))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells)


ANALYSES = {
    "length": run_length,
    "rarity": run_rarity,
    "pca": run_pca,
    "attention": run_attention,
    "beams": run_beams,
}


def run(args: argparse.Namespace) -> int:
    from seq2seq.data.io import check_writable

    check_writable(args.out, "--out", directory=True)  # before any model is loaded
    paths = ANALYSES[args.analysis](args)
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0
