"""The head-to-head table: one row per (system, model), our ratios to each peer, the goals.

Goals (from the issue): training throughput >= 1.5x the faster peer, beam-5 decoding >= 3x the
faster peer (sentences/s, whole process), test BLEU >= the best peer's + 2 points. Each is judged
per model variant, against the peers that ran that variant.
"""

from __future__ import annotations

from typing import Any

NAMES = {"seq2seq": "seq2seq (ours)", "onmt": "OpenNMT-py 3.5.1", "joey": "Joey NMT 2.3.0"}
GOALS = {"train_tok_s": 1.5, "beam5_sent_s": 3.0, "bleu_beam5": 2.0}


def _ratio(ours: float | None, peer: float | None) -> float | None:
    if ours is None or peer is None or peer <= 0:
        return None
    return ours / peer


def _diff(ours: float | None, peer: float | None) -> float | None:
    return None if ours is None or peer is None else ours - peer


def _peers(rows: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """The peers' rows that ran `model` (a toolkit that cannot express it has no numbers)."""
    return [
        r
        for r in rows
        if r["system"] != "seq2seq" and r["model"] == model and not r.get("unsupported")
    ]


def comparisons(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our ratio to each peer, per model: training tok/s, greedy and beam-5 sentences/s, BLEU."""
    out = []
    for ours in (r for r in rows if r["system"] == "seq2seq"):
        for peer in _peers(rows, ours["model"]):
            out.append(
                {
                    "model": ours["model"],
                    "peer": peer["system"],
                    "train_tok_s_ratio": _ratio(ours.get("train_tok_s"), peer.get("train_tok_s")),
                    "greedy_speed_ratio": _ratio(
                        ours.get("greedy_sent_s"), peer.get("greedy_sent_s")
                    ),
                    "beam5_speed_ratio": _ratio(ours.get("beam5_sent_s"), peer.get("beam5_sent_s")),
                    "bleu_greedy_diff": _diff(ours.get("bleu_greedy"), peer.get("bleu_greedy")),
                    "bleu_beam5_diff": _diff(ours.get("bleu_beam5"), peer.get("bleu_beam5")),
                }
            )
    return out


def goals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each goal per model: our value, the best peer's, and met / missed (None: not measured)."""
    out = []
    for ours in (r for r in rows if r["system"] == "seq2seq"):
        peers = _peers(rows, ours["model"])
        for key, bar in GOALS.items():
            values = [p[key] for p in peers if p.get(key) is not None]
            mine, best = ours.get(key), (max(values) if values else None)
            if mine is None or best is None:
                met = None
            elif key.startswith("bleu"):
                met = mine >= best + bar
            else:
                met = mine >= bar * best
            out.append(
                {"model": ours["model"], "metric": key, "ours": mine, "best_peer": best, "met": met}
            )
    return out


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _times(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.2f}x"


def markdown(report: dict[str, Any]) -> str:
    """The whole report as markdown: header, results, ratios, goals, notes."""
    lines = [
        "# Head to head: seq2seq vs OpenNMT-py and Joey NMT",
        "",
        f"{report['date']} · {report['machine']} · budget {report['minutes']} min of wall clock "
        "per training run, 2 threads each, Multi30k EN→FR, SentencePiece 8k joint, "
        "test_2016_flickr (1,000 sentences). Our arithmetic: "
        f"{report.get('our_precision', 'fp32')}; our lexical shortlist: "
        f"{'on' if report.get('our_shortlist') else 'off'}.",
        "",
        "| system | model | steps | train tok/s | dev ppl | greedy s | greedy sent/s | "
        "beam-5 s | beam-5 sent/s | BLEU greedy | BLEU beam 5 | chrF beam 5 | peak RSS train MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        if r.get("unsupported"):
            lines.append(
                f"| {NAMES[r['system']]} | {r['model']} | {r['unsupported']} |" + " |" * 10
            )
            continue
        cells = [
            NAMES[r["system"]],
            r["model"],
            _fmt(r.get("steps")),
            _fmt(r.get("train_tok_s"), 0),
            _fmt(r.get("dev_ppl"), 2),
            _fmt(r.get("greedy_seconds")),
            _fmt(r.get("greedy_sent_s")),
            _fmt(r.get("beam5_seconds")),
            _fmt(r.get("beam5_sent_s")),
            _fmt(r.get("bleu_greedy")),
            _fmt(r.get("bleu_beam5")),
            _fmt(r.get("chrf_beam5")),
            _fmt(r.get("train_peak_mb"), 0),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Our ratio to each peer", ""]
    lines += [
        "| model | peer | train tok/s | greedy speed | beam-5 speed | ΔBLEU greedy | ΔBLEU beam 5 |"
    ]
    lines += ["|---|---|---|---|---|---|---|"]
    for c in report["comparisons"]:
        ratios = [c["train_tok_s_ratio"], c["greedy_speed_ratio"], c["beam5_speed_ratio"]]
        cells = [c["model"], NAMES[c["peer"]], *(_times(x) for x in ratios)]
        cells += [_fmt(c["bleu_greedy_diff"], 1), _fmt(c["bleu_beam5_diff"], 1)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Goals", "", "| model | goal | ours | best peer | |", "|---|---|---|---|---|"]
    text = {
        "train_tok_s": "training tok/s ≥ 1.5x the faster peer",
        "beam5_sent_s": "beam-5 decoding ≥ 3x the faster peer",
        "bleu_beam5": "BLEU (beam 5) ≥ best peer + 2",
    }
    for g in report["goals"]:
        verdict = {True: "met", False: "missed", None: "not measured"}[g["met"]]
        cells = [g["model"], text[g["metric"]], _fmt(g["ours"]), _fmt(g["best_peer"]), verdict]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## How it was measured", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"
