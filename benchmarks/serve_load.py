"""The translation server under load: throughput, latency, errors and memory.

    python benchmarks/serve_load.py --checkpoint runs/small-cpu/best.safetensors
    python benchmarks/serve_load.py --checkpoint best.safetensors --duration 10 --soak-minutes 1 \\
        --beam-size 5 -- --precision auto          # flags after -- go to `seq2seq serve` only

Starts `seq2seq serve` on a free port of 127.0.0.1 and, for each client count (1, 8, 32, 64),
runs that many asyncio clients for `--duration` seconds; each client sends one sentence of
Multi30k test_2016_flickr (English) per request to LibreTranslate's ``POST /translate``, waits
for the answer and sends the next. Per level: sentences/s, p50/p95/p99 latency, errors, the mean
number of sentences per search (from the server's /metrics) and the server's resident memory
before and after. Then a soak at `--soak-clients` clients for `--soak-minutes`, sampling the
server's memory every 10 s; a check that the server's translations of `--check` sentences sent
by 32 concurrent clients equal `seq2seq translate`'s; and a SIGTERM, timing the graceful exit.

Goals (docs/serving.md): at 32 clients, throughput at least 5x the one-client (sequential) rate,
no errors, p99 under 1 s; the server's memory within +-10% over the soak.

Every loop is bounded in time and count, and all traffic goes to 127.0.0.1.
Results: benchmarks/results/serve_load.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"
RESULTS = ROOT / "benchmarks" / "results"
ENTRY = (
    "import sys\n"
    "try:\n    from seq2seq.commands import main\n"
    "except ImportError:\n    from seq2seq.cli import main\n"
    "sys.exit(main())"
)
MAX_REQUESTS_PER_LEVEL = 1_000_000  # a bound besides the time
RSS_SAMPLE_SECONDS = 10.0


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    serve_flags: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, serve_flags = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", nargs="+", required=True)
    parser.add_argument(
        "--sentences", type=Path, default=MULTI30K / "test_2016_flickr.en.gz",
        help="source sentences, plain or .gz (default: Multi30k test_2016_flickr.en)",
    )  # fmt: skip
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per level")
    parser.add_argument("--soak-minutes", type=float, default=10.0, help="0: no soak")
    parser.add_argument("--soak-clients", type=int, default=32)
    parser.add_argument("--check", type=int, default=200, help="sentences compared with translate")
    parser.add_argument("--beam-size", type=int, default=None, help="for serve and translate")
    parser.add_argument("--precision", default=None, help="for serve and translate")
    parser.add_argument("--shortlist", action="store_true", help="for serve and translate")
    parser.add_argument("--source-lang", default=None)
    parser.add_argument("--target-lang", default=None)
    parser.add_argument("--threads", type=int, default=None, help="the server's PyTorch threads")
    parser.add_argument("--screenshot", type=Path, default=None, help="PNG of the web page")
    parser.add_argument("--out", type=Path, default=RESULTS / "serve_load")
    parser.add_argument("--note", default="", help="a sentence for the report (the model's origin)")
    return parser.parse_args(argv), serve_flags


def read_sentences(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def get(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def decode_flags(args: argparse.Namespace) -> list[str]:
    flags = []
    if args.beam_size is not None:
        flags += ["--beam-size", str(args.beam_size)]
    if args.precision is not None:
        flags += ["--precision", args.precision]
    if args.shortlist:
        flags.append("--shortlist")
    return flags


# --- the server ---------------------------------------------------------------------------------


def start_server(args: argparse.Namespace, serve_flags: list[str], log: Path):
    port = free_port()
    command = [sys.executable, "-c", ENTRY, "serve", "--checkpoint", *args.checkpoint]
    command += ["--host", "127.0.0.1", "--port", str(port), *decode_flags(args), *serve_flags]
    for flag, value in (("--source-lang", args.source_lang), ("--target-lang", args.target_lang),
                        ("--threads", args.threads)):  # fmt: skip
        if value is not None:
            command += [flag, str(value)]
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    handle = log.open("w")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"seq2seq serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if get(url + "/health", timeout=2)[0] == 200:
                return process, url
        except OSError:
            pass
        time.sleep(0.5)
    process.kill()
    sys.exit("seq2seq serve did not start within 300 s")


def batch_counts(url: str) -> tuple[float, float]:
    """(searches, sentences searched) so far, from the server's /metrics."""
    text = get(url + "/metrics")[1]
    values = {}
    for line in text.splitlines():
        if line.startswith(("seq2seq_batch_sentences_count", "seq2seq_batch_sentences_sum")):
            name, value = line.split()
            values[name] = float(value)
    return values.get("seq2seq_batch_sentences_count", 0), values.get(
        "seq2seq_batch_sentences_sum", 0
    )


# --- the clients --------------------------------------------------------------------------------


async def run_level(
    url: str, sentences: list[str], clients: int, seconds: float, target: str
) -> dict:
    """`clients` clients, each sending one sentence at a time, for `seconds`."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(MAX_REQUESTS_PER_LEVEL))
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as http:
        deadline = time.monotonic() + seconds

        async def client() -> None:
            while time.monotonic() < deadline:
                index = next(counter, None)
                if index is None:
                    return
                body = {"q": sentences[index % len(sentences)], "source": "auto", "target": target}
                start = time.monotonic()
                try:
                    async with http.post("/translate", json=body) as response:
                        text = await response.text()
                        if response.status != 200:
                            errors.append(f"{response.status}: {text[:100]}")
                            continue
                except (aiohttp.ClientError, asyncio.TimeoutError) as err:
                    errors.append(type(err).__name__)
                    continue
                latencies.append(time.monotonic() - start)

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.monotonic() - started
    return summarise(clients, latencies, errors, elapsed)


def summarise(clients: int, latencies: list[float], errors: list[str], elapsed: float) -> dict:
    ms = sorted(1000 * x for x in latencies)

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p / 100 * len(ms)))], 1) if ms else float("nan")

    return {
        "clients": clients,
        "requests": len(latencies) + len(errors),
        "sentences_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "mean_ms": round(statistics.fmean(ms), 1) if ms else float("nan"),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "seconds": round(elapsed, 1),
    }


async def soak(
    url: str, pid: int, sentences: list[str], clients: int, minutes: float, target: str
) -> dict:
    samples: list[tuple[float, float]] = []
    start = time.monotonic()

    async def sample() -> None:
        while True:
            samples.append((round(time.monotonic() - start, 1), round(rss_mb(pid), 1)))
            await asyncio.sleep(RSS_SAMPLE_SECONDS)

    sampler = asyncio.create_task(sample())
    level = await run_level(url, sentences, clients, 60 * minutes, target)
    sampler.cancel()
    samples.append((round(time.monotonic() - start, 1), round(rss_mb(pid), 1)))
    first, last = samples[0][1], samples[-1][1]
    values = [v for _, v in samples]
    return {
        **level,
        "minutes": minutes,
        "rss_start_mb": first,
        "rss_end_mb": last,
        "rss_min_mb": min(values),
        "rss_max_mb": max(values),
        "rss_change_pct": round(100 * (last - first) / first, 1),
        "rss_samples": samples,
    }


async def translate_concurrently(
    url: str, sentences: list[str], clients: int, target: str
) -> list[str]:
    results = [""] * len(sentences)
    queue = iter(range(len(sentences)))
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=120)) as http:

        async def client() -> None:
            for index in queue:
                body = {"q": sentences[index], "source": "auto", "target": target}
                async with http.post("/translate", json=body) as response:
                    answer = await response.json()
                    results[index] = answer.get("translatedText", f"<{response.status}>")

        await asyncio.gather(*(client() for _ in range(clients)))
    return results


def check_identical(args, url: str, sentences: list[str], target: str) -> dict:
    """The server's translations (32 concurrent clients) against `seq2seq translate`'s."""
    with tempfile.TemporaryDirectory() as tmp:
        source, output = Path(tmp) / "in.txt", Path(tmp) / "out.txt"
        source.write_text("\n".join(sentences) + "\n", "utf-8")
        command = [sys.executable, "-c", ENTRY, "translate", "--checkpoint", *args.checkpoint]
        command += ["--input", str(source), "--output", str(output), "--quiet", *decode_flags(args)]
        subprocess.run(command, check=True)
        expected = output.read_text("utf-8").splitlines()
    served = asyncio.run(translate_concurrently(url, sentences, 32, target))
    same = sum(a == b for a, b in zip(served, expected, strict=True))
    differing = [
        {"source": s, "served": a, "translate": b}
        for s, a, b in zip(sentences, served, expected, strict=True)
        if a != b
    ]
    return {"sentences": len(sentences), "identical": same, "examples": differing[:3]}


def screenshot(url: str, path: Path, sentence: str) -> bool:
    """The web page with a translated sentence (``/?q=``), through headless Chromium's CLI."""
    import shutil
    from urllib.parse import quote

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no chromium: no screenshot", file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--window-size=1200,1180", "--virtual-time-budget=20000",
             f"--screenshot={path.resolve()}", f"{url}/?q={quote(sentence)}"],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
    return path.is_file()


# --- the report ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args, serve_flags = parse_args(argv)
    sentences = read_sentences(args.sentences)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    log = Path(tempfile.gettempdir()) / "serve_load.server.log"
    load_before = os.getloadavg()
    # A SIGTERM to the benchmark ends it through `finally`, which stops the server too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    process, url = start_server(args, serve_flags, log)
    try:
        result = measure(args, process, url, sentences)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    result["command"] = "python benchmarks/serve_load.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    result["note"] = args.note
    result["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores; load average {load_before[0]:.1f} "
        f"before, {os.getloadavg()[0]:.1f} after (other work on the machine included)"
    )
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    args.out.with_suffix(".md").write_text(markdown(result), "utf-8")
    print(markdown(result))
    return 0


def measure(args: argparse.Namespace, process, url: str, sentences: list[str]) -> dict:
    info = json.loads(get(url + "/v1/info")[1])
    print(f"server {url} (pid {process.pid}): {info['models']}, {info['settings']}", flush=True)
    target = info["target"]
    asyncio.run(run_level(url, sentences, 1, min(5.0, args.duration), target))  # warm-up
    levels = []
    for clients in args.clients:
        rss_start = rss_mb(process.pid)
        searches, searched = batch_counts(url)
        level = asyncio.run(run_level(url, sentences, clients, args.duration, target))
        searches_after, searched_after = batch_counts(url)
        level["mean_batch"] = round(
            (searched_after - searched) / max(1.0, searches_after - searches), 1
        )
        level["rss_start_mb"] = round(rss_start, 1)
        level["rss_end_mb"] = round(rss_mb(process.pid), 1)
        levels.append(level)
        print(json.dumps(level), flush=True)
    soaked = None
    if args.soak_minutes > 0:
        soaked = asyncio.run(
            soak(url, process.pid, sentences, args.soak_clients, args.soak_minutes, target)
        )
        print(json.dumps({k: v for k, v in soaked.items() if k != "rss_samples"}), flush=True)
    identical = None
    if args.check:
        identical = check_identical(args, url, sentences[: args.check], target)
        print(json.dumps(identical), flush=True)
    shot = None
    if args.screenshot is not None:
        shot = str(args.screenshot) if screenshot(url, args.screenshot, sentences[0]) else None
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=120)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "server": info,
        "duration_s": args.duration,
        "levels": levels,
        "soak": soaked,
        "identical": identical,
        "shutdown": {"exit_code": code, "seconds": round(time.monotonic() - sent, 2)},
        "screenshot": shot,
        "goals": goals(levels, soaked),
    }


def goals(levels: list[dict], soaked: dict | None) -> dict:
    by_clients = {level["clients"]: level for level in levels}
    out: dict = {}
    if 1 in by_clients and 32 in by_clients:
        ratio = by_clients[32]["sentences_per_s"] / max(1e-9, by_clients[1]["sentences_per_s"])
        out["speedup_32_vs_1"] = ratio
        out["speedup_met"] = ratio >= 5
    if 32 in by_clients:
        out["errors_32"] = by_clients[32]["errors"]
        out["p99_32_ms"] = by_clients[32]["p99_ms"]
        out["p99_met"] = by_clients[32]["p99_ms"] < 1000
    out["errors_total"] = sum(level["errors"] for level in levels) + (soaked or {}).get("errors", 0)
    if soaked:
        out["rss_change_pct"] = soaked["rss_change_pct"]
        out["rss_met"] = abs(soaked["rss_change_pct"]) <= 10
    return out


def markdown(r: dict) -> str:
    s = r["server"]["settings"]
    lines = [
        "# `seq2seq serve` under load",
        "",
        f"`{r['command']}`, {r['date']}; {r['machine']}.",
        "",
        f"Model {', '.join(r['server']['models'])} ({r['server']['source']}->"
        f"{r['server']['target']}{', attention' if r['server']['attention'] else ''}); "
        f"beam {s['beam_size']}, precision {s['precision']}, shortlist {s['shortlist']}. "
        f"Each client sends one test_2016_flickr sentence per request to `POST /translate` and "
        f"waits for the answer; {r['duration_s']:g} s per level.",
        *(["", r["note"]] if r.get("note") else []),
        "",
        "| clients | requests | sentences/s | x 1 client | p50 ms | p95 ms | p99 ms | errors "
        "| sentences per search | server RSS start -> end (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    base = r["levels"][0]["sentences_per_s"] if r["levels"] else 0
    for level in r["levels"]:
        ratio = level["sentences_per_s"] / base if base else float("nan")
        lines.append(
            f"| {level['clients']} | {level['requests']:,} | {level['sentences_per_s']:.1f} "
            f"| {ratio:.1f} | {level['p50_ms']:.0f} | {level['p95_ms']:.0f} "
            f"| {level['p99_ms']:.0f} | {level['errors']} | {level['mean_batch']:.1f} "
            f"| {level['rss_start_mb']:.0f} -> {level['rss_end_mb']:.0f} |"
        )
    g = r["goals"]
    lines += ["", "Goals:"]
    if "speedup_32_vs_1" in g:
        lines.append(
            f"- 32 clients vs one client: {g['speedup_32_vs_1']:.1f}x the sentences/s "
            f"(goal >= 5x): {'met' if g['speedup_met'] else 'missed'}"
        )
    if "p99_32_ms" in g:
        lines.append(
            f"- p99 latency at 32 clients: {g['p99_32_ms']:.0f} ms (goal < 1000 ms): "
            f"{'met' if g['p99_met'] else 'missed'}"
        )
    lines.append(f"- errors, all levels and soak: {g['errors_total']} (goal 0)")
    soaked = r["soak"]
    if soaked:
        lines.append(
            f"- soak, {soaked['clients']} "
            f"clients for {soaked['minutes']:g} min ({soaked['requests']:,} requests, "
            f"{soaked['sentences_per_s']:.1f} sentences/s, p99 {soaked['p99_ms']:.0f} ms, "
            f"{soaked['errors']} errors): server RSS {soaked['rss_start_mb']:.0f} -> "
            f"{soaked['rss_end_mb']:.0f} MB (min {soaked['rss_min_mb']:.0f}, max "
            f"{soaked['rss_max_mb']:.0f}), {soaked['rss_change_pct']:+.1f}% (goal within +-10%): "
            f"{'met' if g['rss_met'] else 'missed'}"
        )
    same = r["identical"]
    if same:
        lines.append(
            f"- outputs: {same['identical']} of {same['sentences']} sentences sent by 32 "
            f"concurrent clients identical to `seq2seq translate` with the same settings"
        )
    sd = r["shutdown"]
    lines.append(f"- SIGTERM: exit status {sd['exit_code']} after {sd['seconds']:.1f} s")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
