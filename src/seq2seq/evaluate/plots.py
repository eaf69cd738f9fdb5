"""Figures for the analyses and the report, drawn with matplotlib's Agg backend into PNG files.

Every figure has a title, labelled axes and (where it has more than one series) a legend; the
numbers it shows are the ones written to the CSV beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq.errors import Seq2SeqError
from seq2seq.evaluate.analyses import Table

DPI = 110


def _pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), or one sentence if missing."""
    try:
        import matplotlib
    except ImportError:
        raise Seq2SeqError(
            "plots need matplotlib; install it with `pip install matplotlib`"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def plot_bleu_by_length(table: Table, systems: Sequence[str], path: str | Path) -> Path:
    """Paper Fig. 3, left: one line per system over the length buckets."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    x = np.arange(len(table.rows))
    for name in systems:
        ax.plot(x, table.column(name), marker="o", label=name)
    labels = [f"{b}\n(n={n})" for b, n in zip(table.column("bucket"), table.column("sentences"))]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_xlabel("source sentence length (words); sentences per bucket in brackets")
    ax.set_ylabel("BLEU")
    ax.set_title("BLEU by sentence length (cf. Sutskever et al. 2014, Fig. 3 left)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(title="system")
    return _save(fig, path)


def plot_bleu_by_rarity(table: Table, systems: Sequence[str], path: str | Path) -> Path:
    """Paper Fig. 3, right: BLEU against each group's average word-frequency rank."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ranks = table.column("mean_rank")
    for name in systems:
        ax.plot(ranks, table.column(name), marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel(
        f"average word-frequency rank of the source sentence "
        f"({len(table.rows)} groups of ~{table.rows[0][1]} sentences)"
    )
    ax.set_ylabel("BLEU")
    ax.set_title("BLEU by word rarity (cf. Sutskever et al. 2014, Fig. 3 right)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="system")
    return _save(fig, path)


def plot_pca(
    groups: Sequence[str],
    texts: Sequence[str],
    coords: np.ndarray,
    explained: np.ndarray,
    path: str | Path,
) -> Path:
    """Paper Fig. 2: labelled 2-D points, one colour per phrase group."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 6.5))
    colours = plt.get_cmap("tab10")
    names = list(dict.fromkeys(groups))
    for k, name in enumerate(names):
        rows = [i for i, g in enumerate(groups) if g == name]
        ax.scatter(coords[rows, 0], coords[rows, 1], color=colours(k % 10), label=name, s=36)
        for i in rows:
            text = texts[i] if len(texts[i]) <= 42 else texts[i][:40] + "…"
            ax.annotate(
                text, coords[i], fontsize=7, color=colours(k % 10),
                xytext=(4, 3), textcoords="offset points",
            )  # fmt: skip
    ax.set_xlabel(f"first principal component ({explained[0]:.0%} of variance)")
    ax.set_ylabel(f"second principal component ({explained[1]:.0%} of variance)")
    ax.set_title("PCA of the encoder's final hidden state (cf. Sutskever et al. 2014, Fig. 2)")
    ax.grid(alpha=0.3)
    ax.legend(title="phrase group", fontsize=7, loc="best")
    return _save(fig, path)


def plot_attention(
    source_tokens: Sequence[str],
    output_tokens: Sequence[str],
    weights: np.ndarray,
    path: str | Path,
) -> Path:
    """Heatmap of attention weights (T, S): source in reading order across, output down."""
    plt = _pyplot()
    width = max(4.0, 0.45 * len(source_tokens) + 2.0)
    height = max(3.0, 0.35 * len(output_tokens) + 1.5)
    fig, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(np.arange(len(source_tokens)), source_tokens, rotation=60, ha="right")
    ax.set_yticks(np.arange(len(output_tokens)), output_tokens)
    ax.set_xlabel("source tokens (reading order)")
    ax.set_ylabel("output tokens")
    ax.set_title("Attention weights")
    fig.colorbar(image, ax=ax, label="attention weight")
    return _save(fig, path)


def plot_beams(table: Table, path: str | Path) -> Path:
    """Two panels: BLEU and decoding speed against the beam size (paper §3.6)."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    beams = table.column("beam_size")
    left.plot(beams, table.column("bleu"), marker="o", color="tab:blue", label="BLEU")
    left.set_xlabel("beam size")
    left.set_ylabel("BLEU")
    left.set_title("Quality by beam size")
    right.plot(
        beams, table.column("sentences_per_second"), marker="s", color="tab:orange",
        label="sentences / s",
    )  # fmt: skip
    right.set_xlabel("beam size")
    right.set_ylabel("sentences per second")
    right.set_title("Decoding speed by beam size")
    for ax in (left, right):
        ax.set_xticks(beams)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Beam search: BLEU and speed (cf. Sutskever et al. 2014, §3.6)")
    return _save(fig, path)


def plot_training_curves(
    train: Sequence[dict[str, Any]], valid: Sequence[dict[str, Any]], path: str | Path
) -> Path:
    """Three panels from a run's log.jsonl: training loss, perplexities, dev BLEU, against step."""
    plt = _pyplot()
    fig, (loss_ax, ppl_ax, bleu_ax) = plt.subplots(1, 3, figsize=(14, 4))
    steps = [r["step"] for r in train]
    loss_ax.plot(steps, [r["loss"] for r in train], color="tab:blue", label="train loss")
    loss_ax.set_ylabel("loss (nats per target token)")
    loss_ax.set_title("Training loss")
    ppl_ax.plot(steps, [r["ppl"] for r in train], color="tab:blue", alpha=0.6, label="train")
    dev = [r for r in valid if r.get("ppl") is not None]
    ppl_ax.plot(
        [r["step"] for r in dev], [r["ppl"] for r in dev], "o-", color="tab:red", label="dev"
    )
    ppl_ax.set_yscale("log")
    ppl_ax.set_ylabel("perplexity (log scale)")
    ppl_ax.set_title("Perplexity")
    scored = [r for r in valid if r.get("bleu") is not None]
    if scored:
        bleu_ax.plot(
            [r["step"] for r in scored], [r["bleu"] for r in scored], "o-", color="tab:green",
            label="dev BLEU (greedy)",
        )  # fmt: skip
    else:
        bleu_ax.text(
            0.5, 0.5, "no dev BLEU in this run's log", ha="center", transform=bleu_ax.transAxes
        )
    bleu_ax.set_ylabel("BLEU")
    bleu_ax.set_title("Dev BLEU")
    for ax in (loss_ax, ppl_ax, bleu_ax):
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    return _save(fig, path)
