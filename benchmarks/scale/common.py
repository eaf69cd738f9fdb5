"""What the scale benchmarks share: the machine line, resident memory, and writing results.

Each benchmark writes benchmarks/results/scale_<name>.json (every figure, the command that made
it, the machine and its load) and a short scale_<name>.md table; docs/scaling.md quotes them.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def rss_mb(pid: int | str = "self") -> float:
    """Current resident set of a process (VmRSS), in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set of a live process (VmHWM), in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def machine() -> dict[str, Any]:
    """Where and under what load the figures were taken (others' jobs share this machine)."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((ln.split(":", 1)[1].strip() for ln in handle if "model name" in ln), "")
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def command() -> str:
    return " ".join(["python", *[a if " " not in a else repr(a) for a in sys.argv]])


def write_results(name: str, data: dict[str, Any], markdown: str, out_dir: Path = RESULTS) -> Path:
    """Write scale_<name>.json and scale_<name>.md under `out_dir`; returns the JSON path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"scale_{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out_dir / f"scale_{name}.md").write_text(markdown.rstrip() + "\n", encoding="utf-8")
    return path


def table(rows: list[list[str]]) -> str:
    """A Markdown table; the first row is the header."""
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)
