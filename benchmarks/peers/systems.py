"""How each system trains, decodes and reports: commands, log parsing, checkpoints.

One stopping rule for all three: the budget is wall-clock time from the training process's
start (start-up, data loading and validation included). At the budget our trainer gets SIGTERM and
Joey NMT SIGINT; both save the step they are at. OpenNMT-py cannot save on a signal, so it runs on
to its next checkpoint (every 100 steps) and is stopped there: slightly more time, never less.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from benchmarks.peers import peer_configs as pc
from benchmarks.peers.peer_data import PeerData
from benchmarks.peers.peer_process import RunResult

ONMT_STEP = re.compile(r"Step\s+(\d+)(?:/\s*\d+)?;")
ONMT_PPL = re.compile(r"Validation perplexity:\s*([\d.eE+-]+)")
JOEY_STEP = re.compile(r"Step:\s*(\d+)")
JOEY_PPL = re.compile(r"ppl:\s*([\d.]+)")


@dataclass
class TrainLog:
    """What a training log says: (seconds, step) reports and the last dev perplexity."""

    reports: list[tuple[float, int]]
    dev_ppl: float | None


def parse_lines(lines: list[tuple[float, str]], step_re: re.Pattern, ppl_re: re.Pattern):
    """Step reports and the last validation perplexity from a peer's timestamped log lines."""
    reports, ppl = [], None
    for seconds, text in lines:
        if "Validation" in text or "Evaluation" in text:
            found = ppl_re.search(text)
            if found:
                ppl = float(found.group(1))
                continue
        found = step_re.search(text)
        if found:
            reports.append((seconds, int(found.group(1))))
    return TrainLog(reports, ppl)


def parse_ours(log_jsonl: Path) -> TrainLog:
    """Our run's log.jsonl: train records carry step and wall time, valid records ppl."""
    reports, ppl = [], None
    for line in log_jsonl.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("kind") == "train":
            reports.append((float(record["time"]), int(record["step"])))
        elif record.get("kind") == "valid" and "ppl" in record:
            ppl = float(record["ppl"])
    return TrainLog(reports, ppl)


def throughput(log: TrainLog, mean_tgt_tokens: float, batch: int = pc.BATCH) -> float | None:
    """Target tokens/s between the first and last step report: steps x batch sentences x the
    corpus's mean target length (+ end symbol), over the seconds between the two reports. The
    same formula for every system, so no toolkit's own token counting enters the comparison."""
    if len(log.reports) < 2:
        return None
    (t0, s0), (t1, s1) = log.reports[0], log.reports[-1]
    if t1 <= t0:
        return None
    return (s1 - s0) * batch * mean_tgt_tokens / (t1 - t0)


def newest_checkpoint(system: str, run_dir: Path) -> tuple[Path, int] | None:
    """The latest checkpoint a system has written and its step."""
    if system == "seq2seq":
        last = run_dir / "last.safetensors"
        steps = sorted(run_dir.glob("checkpoints/*.safetensors"), key=lambda p: p.stat().st_mtime)
        step = int(re.findall(r"\d+", steps[-1].stem)[-1]) if steps else 0
        return (last, step) if last.exists() else None
    pattern, regex = {
        "onmt": ("model_step_*.pt", r"model_step_(\d+)\.pt"),
        "joey": ("*.ckpt", r"^(\d+)\.ckpt$"),
    }[system]
    found = []
    for path in run_dir.glob(pattern):
        match = re.search(regex, path.name)
        if match:
            found.append((int(match.group(1)), path))
    if not found:
        return None
    step, path = max(found)
    return path, step


class System:
    """Commands for one system and model variant, rooted in `work`."""

    def __init__(
        self,
        name: str,
        model: str,
        work: Path,
        data: PeerData,
        valid_every: int,
        precision: str = "fp32",
        shortlist: bool = False,
    ):
        self.name, self.model, self.data, self.valid_every = name, model, data, valid_every
        self.precision = precision  # ours only: training and search arithmetic
        self.shortlist = shortlist  # ours only: lexical output shortlist in search
        self.dir = work / "runs" / f"{name}-{model}"
        self.python = (
            sys.executable if name == "seq2seq" else str(work / "venvs" / name / "bin" / "python")
        )

    def write_configs(self, minutes: float) -> None:
        """Fresh configs and an empty run directory (a stale checkpoint would end training)."""
        shutil.rmtree(self.dir / "run", ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        d, model, every = self.data, self.model, self.valid_every
        if self.name == "seq2seq":
            cfg = pc.ours_config(
                model, d.ours, self.dir / "run", minutes, every, self.precision, self.shortlist
            )
            self._dump("train.yaml", cfg)
        elif self.name == "onmt":
            self._dump(
                "train.yaml", pc.onmt_config(model, d.pieces, d.vocab, self.dir / "run", every)
            )
        else:
            self._dump(
                "train.yaml", pc.joey_config(model, d.pieces, d.vocab, self.dir / "run", every)
            )

    def _dump(self, name: str, cfg: dict) -> None:
        (self.dir / name).write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")

    def train_command(self) -> list[str]:
        cfg = str(self.dir / "train.yaml")
        if self.name == "seq2seq":
            return [self.python, "-m", "seq2seq.cli", "train", cfg, "--overwrite"]
        if self.name == "onmt":
            return [self.python, "-m", "onmt.bin.train", "-config", cfg]
        return [self.python, "-m", "joeynmt", "train", cfg, "--skip-test"]

    def decode_command(self, checkpoint: Path, beam: int, out: Path):
        """(command, file for its stdin or None, whether its stdout is the translation)."""
        if self.name == "seq2seq":
            cmd = [self.python, "-m", "seq2seq.cli", "translate", "--checkpoint", str(checkpoint)]
            cmd += ["--input", str(self.data.test_src_raw), "--beam-size", str(beam)]
            return cmd + ["--batch-size", str(pc.BATCH), "--quiet"], None, True
        src = self.data.pieces / "test.en"
        if self.name == "onmt":  # it also prints a timing line on stdout: output to a file
            cmd = [self.python, "-m", "onmt.bin.translate", "-model", str(checkpoint)]
            cmd += ["-src", str(src), "-output", str(out), "-beam_size", str(beam)]
            return cmd + ["-batch_size", str(pc.BATCH), "-batch_type", "sents"], None, False
        # Joey NMT takes the checkpoint from `testing.load_model`; its `translate -o FILE`
        # crashes after decoding, so the translation is taken from stdout.
        cfg = yaml.safe_load((self.dir / "train.yaml").read_text(encoding="utf-8"))
        cfg["testing"].update(pc.joey_testing(beam), load_model=str(checkpoint))
        self._dump(f"decode.beam{beam}.yaml", cfg)
        cmd = [self.python, "-m", "joeynmt", "translate", str(self.dir / f"decode.beam{beam}.yaml")]
        return cmd, src, True

    def saves_on_signal(self) -> int | None:
        """The signal on which this system saves its current step and exits (None: it cannot)."""
        return {"seq2seq": signal.SIGTERM, "joey": signal.SIGINT}.get(self.name)

    def train_log(self, result: RunResult) -> TrainLog:
        if self.name == "seq2seq":
            return parse_ours(self.dir / "run" / "log.jsonl")
        if self.name == "onmt":
            return parse_lines(result.lines, ONMT_STEP, ONMT_PPL)
        return parse_lines(result.lines, JOEY_STEP, JOEY_PPL)

    def hypotheses_are_pieces(self) -> bool:
        return self.name != "seq2seq"
