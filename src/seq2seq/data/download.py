"""`seq2seq download`: public parallel corpora, checked against published checksums.

    seq2seq download multi30k --out data/multi30k
    seq2seq prepare --src data/multi30k/train.en.gz --tgt data/multi30k/train.fr.gz \\
        --valid-src data/multi30k/val.en.gz --valid-tgt data/multi30k/val.fr.gz --out data/en-fr

    seq2seq download wmt14-en-fr --out data/wmt14          # the paper's task (about 7 GB)
    seq2seq prepare --src data/wmt14/train.en --tgt data/wmt14/train.fr \\
        --valid-src data/wmt14/newstest2012.en --valid-tgt data/wmt14/newstest2012.fr \\
        --test-src data/wmt14/newstest2014.en --test-tgt data/wmt14/newstest2014.fr ...

Multi30k comes from the public multi30k/dataset repository (Elliott et al. 2016, 2017). WMT'14
English-French (Bojar et al. 2014) comes from statmt.org as the task published it: the training
corpora (Europarl v7, Common Crawl, UN, News Commentary v9, the 10^9 French-English corpus) and the
newstest2012, newstest2013 and newstest2014 sets; the archives are unpacked into aligned plain text
(`train.en` / `train.fr`, all the chosen corpora one after another, and
`newstest201{2,3,4}.{en,fr}` taken out of their SGML). Any mirror can stand in with ``--base-url``.

Every file is written to ``<name>.part``, checked and only then renamed, so an interrupted download
never leaves a file that looks complete. An interrupted transfer keeps its ``.part`` and the next
run asks the server for the rest only (an HTTP range request; a server that ignores it sends the
whole file again); files already present with the right checksum are skipped; unpacked text is
written the same way. So running the command again resumes where it stopped.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import http.client
import json
import os
import re
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from seq2seq.data.io import AtomicTextFile, write_atomic
from seq2seq.errors import DataError

DEFAULT_BASE_URL = "https://github.com/multi30k/dataset/raw/master/data/task1/raw/"
SPLITS = ("train", "val", "test_2016_flickr")
LANGUAGES = ("en", "fr", "de")

# SHA-256 of the published files (multi30k/dataset, data/task1/raw).
MULTI30K_SHA256: dict[str, str] = {
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.fr.gz": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c",
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.fr.gz": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.fr.gz": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
}
DATASETS = ("multi30k", "wmt14-en-fr", "an4", "librispeech")  # speech: data/speech_corpora.py
_CHUNK = 1 << 16
# What shows a download's progress: called with the file's name, the bytes it has and its size
# (None when the server does not say) after each chunk (the command passes a progress bar).
ByteProgress = Callable[[str, int, int | None], None]


def _make_dir(path: Path, named: Path) -> None:
    """Create `path` (and parents); DataError naming the output directory `named` if it fails."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"cannot create the output directory {named} ({err.strerror or err})"
        ) from None


def sha256_of(path: Path) -> str:
    return digest_of(path, "sha256")


def digest_of(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file (``sha256`` or ``md5``)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def multi30k_files(languages: tuple[str, ...] = LANGUAGES) -> list[str]:
    """File names of every split in the given languages."""
    for lang in languages:
        if lang not in LANGUAGES:
            raise DataError(f"Multi30k task 1 has languages {', '.join(LANGUAGES)}, not '{lang}'")
    return [f"{split}.{lang}.gz" for split in SPLITS for lang in languages]


def download_multi30k(
    out_dir: str | Path,
    base_url: str = DEFAULT_BASE_URL,
    languages: tuple[str, ...] = LANGUAGES,
    progress: ByteProgress | None = None,
    timeout: float = 60.0,
) -> dict[str, str]:
    """Download the files into `out_dir`; returns {file name: "downloaded" | "present"}."""
    out = Path(out_dir)
    _make_dir(out, out)
    base = base_url if base_url.endswith("/") else base_url + "/"
    done: dict[str, str] = {}
    for name in multi30k_files(languages):
        target = out / name
        if target.is_file() and sha256_of(target) == MULTI30K_SHA256[name]:
            done[name] = "present"
            continue
        fetch(base + name, target, MULTI30K_SHA256[name], progress=progress, timeout=timeout)
        done[name] = "downloaded"
    return done


def fetch(
    url: str,
    target: Path,
    sha256: str,
    progress: ByteProgress | None = None,
    timeout: float = 60.0,
    algorithm: str = "sha256",
) -> None:
    """Download `url` to `target` through ``<target>.part``; rename only if the digest (SHA-256,
    or `algorithm`) matches. A ``.part`` left by an interrupted run is continued with a range
    request; an interrupted transfer keeps what it received, for the next run to continue."""
    expected = sha256
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    digest = hashlib.new(algorithm)
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    received = 0
    try:
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as err:
            if err.code != 416 or not have:  # 416: nothing after `have`, the .part is complete
                raise
            response = None
        if response is None:
            _hash_file(part, digest)
        else:
            with response:
                resumed = have and response.status == 206
                if resumed:
                    _hash_file(part, digest)
                else:
                    have = 0  # a plain 200: the server sends the whole file again
                length = int(response.headers.get("Content-Length") or 0)
                with open(part, "ab" if resumed else "wb") as handle:
                    total = (have + length) or None
                    while chunk := response.read(_CHUNK):
                        handle.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        if progress:
                            progress(target.name, have + received, total)
                    handle.flush()
                    os.fsync(handle.fileno())
                if length and received < length:  # http.client reads a cut-off body as its end
                    raise http.client.IncompleteRead(b"", length - received)
    except urllib.error.HTTPError as err:
        if not part.is_file() or part.stat().st_size == 0:
            part.unlink(missing_ok=True)
        raise DataError(f"downloading {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        kept = part.stat().st_size if part.is_file() else 0
        reason = getattr(err, "reason", None) or type(err).__name__
        if kept:
            raise DataError(
                f"downloading {url} stopped after {kept:,} bytes ({reason}); run the command "
                "again to continue from there"
            ) from None
        part.unlink(missing_ok=True)
        raise DataError(
            f"downloading {url} failed ({reason}); check the network or --base-url"
        ) from None
    if digest.hexdigest() != expected:
        part.unlink(missing_ok=True)
        name = {"sha256": "SHA-256", "md5": "MD5"}.get(algorithm, algorithm)
        raise DataError(
            f"checksum mismatch for {target.name} from {url}: {name} {digest.hexdigest()[:16]}..., "
            f"expected {expected[:16]}...; the file was not kept"
        )
    os.replace(part, target)


def _hash_file(path: Path, digest) -> None:
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)


# ---------------------------------------------------------------------------------------------
# WMT'14 English-French (the paper's task)

WMT14_BASE_URL = "https://www.statmt.org/"


@dataclass(frozen=True)
class Archive:
    """One published file: its path under the base URL and its MD5 (the digest published with
    it by the tools that reproduce WMT'14: Sockeye's autopilot and sacreBLEU)."""

    path: str
    md5: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Corpus:
    """An aligned pair of files inside an archive (members may be gzipped: ``.gz``)."""

    archive: str  # key of WMT14_ARCHIVES
    en: str
    fr: str
    sgml: bool = False  # newstest sets: take the text of each <seg> element


WMT14_ARCHIVES: dict[str, Archive] = {
    "europarl": Archive("wmt13/training-parallel-europarl-v7.tgz", "c52404583294a1b609e56d45b2ed06f5"),
    "commoncrawl": Archive("wmt13/training-parallel-commoncrawl.tgz", "7e0acbe86b0d7816300e14650f5b2bd4"),
    "un": Archive("wmt13/training-parallel-un.tgz", "bb25a213ba9140023e4cc82c778bef53"),
    "news-commentary": Archive("wmt14/training-parallel-nc-v9.tgz", "92e42b68f9d3c2ae9722e6d1c2623e21"),
    "giga": Archive("wmt10/training-giga-fren.tar", "0b12e20027d5b5f0dfcca290c72c8953"),
    "dev": Archive("wmt14/dev.tgz", "88ba3fc60b2278d59277122e1c7dd6e7"),
    "test": Archive("wmt14/test-full.tgz", "a8cd784e006feb32ac6f3d9ec7eb389a"),
}  # fmt: skip

# Training corpora, in the order they are concatenated into train.en / train.fr.
WMT14_TRAIN: dict[str, Corpus] = {
    "europarl": Corpus("europarl", "training/europarl-v7.fr-en.en", "training/europarl-v7.fr-en.fr"),
    "commoncrawl": Corpus("commoncrawl", "commoncrawl.fr-en.en", "commoncrawl.fr-en.fr"),
    "un": Corpus("un", "un/undoc.2000.fr-en.en", "un/undoc.2000.fr-en.fr"),
    "news-commentary": Corpus("news-commentary", "training/news-commentary-v9.fr-en.en",
                              "training/news-commentary-v9.fr-en.fr"),
    "giga": Corpus("giga", "giga-fren.release2.fixed.en.gz", "giga-fren.release2.fixed.fr.gz"),
}  # fmt: skip

# Dev and test sets: newstest2012 + 2013 (the paper's dev data, §3.1) and newstest2014 (its test).
WMT14_EVAL: dict[str, Corpus] = {
    "newstest2012": Corpus("dev", "dev/newstest2012-src.en.sgm", "dev/newstest2012-ref.fr.sgm", True),
    "newstest2013": Corpus("dev", "dev/newstest2013-src.en.sgm", "dev/newstest2013-ref.fr.sgm", True),
    "newstest2014": Corpus("test", "test-full/newstest2014-fren-src.en.sgm",
                           "test-full/newstest2014-fren-ref.fr.sgm", True),
}  # fmt: skip


def wmt14_archives(corpora: tuple[str, ...] = tuple(WMT14_TRAIN)) -> list[str]:
    """Keys of the archives needed for these training corpora and the newstest sets."""
    for name in corpora:
        if name not in WMT14_TRAIN:
            raise DataError(
                f"WMT'14 English-French has the training corpora {', '.join(WMT14_TRAIN)}, "
                f"not '{name}'"
            )
    return [k for k in WMT14_ARCHIVES if k in corpora or k in ("dev", "test")]


def download_wmt14_en_fr(
    out_dir: str | Path,
    base_url: str = WMT14_BASE_URL,
    corpora: tuple[str, ...] = tuple(WMT14_TRAIN),
    progress: ByteProgress | None = None,
    timeout: float = 60.0,
) -> dict[str, str]:
    """Download the archives into `out_dir`/archives and unpack `out_dir`/train.{en,fr} (the
    chosen corpora, in WMT14_TRAIN's order) and `out_dir`/newstest201{2,3,4}.{en,fr}.

    Returns {file name: "downloaded" | "present" | "written"}; `out_dir`/wmt14-en-fr.json records
    the line count of each corpus.
    """
    out = Path(out_dir)
    archives = out / "archives"
    _make_dir(archives, out)
    base = base_url if base_url.endswith("/") else base_url + "/"
    done: dict[str, str] = {}
    for key in wmt14_archives(corpora):
        archive = WMT14_ARCHIVES[key]
        target = archives / archive.name
        if target.is_file() and digest_of(target, "md5") == archive.md5:
            done[archive.name] = "present"
            continue
        fetch(base + archive.path, target, archive.md5, progress, timeout, algorithm="md5")
        done[archive.name] = "downloaded"
    counts: dict[str, int] = {}
    chosen = [name for name in WMT14_TRAIN if name in corpora]
    names = {"train": chosen, **{name: [name] for name in WMT14_EVAL}}
    for output, parts in names.items():
        record = out / f".{output}.lines"  # written last: the pair of files is complete
        previous = _read_record(record)
        files = all((out / f"{output}.{lang}").is_file() for lang in ("en", "fr"))
        if files and previous is not None and list(previous) == parts:
            counts.update(previous)
            done.update({f"{output}.{lang}": "present" for lang in ("en", "fr")})
            continue
        record.unlink(missing_ok=True)
        found = _unpack(out, output, [(p, {**WMT14_TRAIN, **WMT14_EVAL}[p]) for p in parts])
        write_atomic(record, (json.dumps(found) + "\n").encode("utf-8"))
        counts.update(found)
        done.update({f"{output}.{lang}": "written" for lang in ("en", "fr")})
    summary = {"corpora": chosen, "lines": counts, "train_lines": sum(counts[c] for c in chosen)}
    write_atomic(out / "wmt14-en-fr.json", (json.dumps(summary, indent=2) + "\n").encode("utf-8"))
    return done


def _unpack(out: Path, output: str, parts: list[tuple[str, Corpus]]) -> dict[str, int]:
    """Write `output`.en and `output`.fr from the members of `parts`, checking alignment."""
    counts: dict[str, int] = {}
    with ExitStack() as files:  # both renamed into place at the end, or neither
        for lang in ("en", "fr"):
            handle = files.enter_context(AtomicTextFile(out / f"{output}.{lang}"))
            for name, corpus in parts:
                n = 0
                for line in _member_lines(out, corpus, getattr(corpus, lang)):
                    handle.write(line + "\n")
                    n += 1
                if lang == "fr" and n != counts[name]:
                    raise DataError(
                        f"{name}: {counts[name]:,} English lines but {n:,} French lines in "
                        f"{WMT14_ARCHIVES[corpus.archive].name}; the archive is not aligned"
                    )
                counts[name] = n
    return counts


_SEG = re.compile(r"<seg[^>]*>(.*)</seg>", re.IGNORECASE)


def _member_lines(out: Path, corpus: Corpus, member: str) -> Iterator[str]:
    """The lines of one archive member (gunzipped when it ends in .gz; the <seg> texts of SGML)."""
    archive = out / "archives" / WMT14_ARCHIVES[corpus.archive].name
    try:
        with tarfile.open(archive) as tar:
            try:
                info = tar.getmember(member)
            except KeyError:
                raise DataError(
                    f"{archive.name} has no member {member}; is it the published archive?"
                ) from None
            handle = tar.extractfile(info)
            if handle is None:
                raise DataError(f"{archive.name}: {member} is not a regular file")
            with handle:
                raw = gzip.GzipFile(fileobj=handle) if member.endswith(".gz") else handle
                for data in raw:
                    # invalid UTF-8 (a few crawled lines) is replaced, never dropped: that would
                    # break the alignment of the two sides
                    line = data.decode("utf-8", errors="replace").rstrip("\r\n")
                    if corpus.sgml:
                        found = _SEG.search(line)
                        if found is None:
                            continue
                        line = html.unescape(found.group(1))
                    yield " ".join(line.split())
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"cannot read {archive.name} ({err}); delete it and download again"
        ) from None


def _read_record(path: Path) -> dict[str, int] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
