"""`seq2seq download multi30k`: fetch the Multi30k task-1 raw text, checked against known SHA-256s.

    seq2seq download multi30k --out data/multi30k
    seq2seq prepare --src data/multi30k/train.en.gz --tgt data/multi30k/train.fr.gz \\
        --valid-src data/multi30k/val.en.gz --valid-tgt data/multi30k/val.fr.gz --out data/en-fr

Files come from the public multi30k/dataset repository (Elliott et al. 2016, 2017), or from any
mirror given with ``--base-url``. Each is written to a temporary name, checked and only then renamed,
so an interrupted download never leaves a file that looks complete; files already present with the
right checksum are skipped, so running the command again resumes.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

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
DATASETS = ("multi30k",)
_CHUNK = 1 << 16


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
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
    progress: bool = True,
    timeout: float = 60.0,
) -> dict[str, str]:
    """Download the files into `out_dir`; returns {file name: "downloaded" | "present"}."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"cannot create the output directory {out} ({err.strerror or err})"
        ) from None
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
    url: str, target: Path, sha256: str, progress: bool = True, timeout: float = 60.0
) -> None:
    """Download `url` to `target` through a temporary file; rename only if the SHA-256 matches."""
    part = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as handle:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = tqdm(
                total=total,
                desc=target.name,
                unit="B",
                unit_scale=True,
                file=sys.stderr,
                leave=False,
                disable=None if progress else True,
            )
            with bar:
                while chunk := response.read(_CHUNK):
                    handle.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())
    except urllib.error.HTTPError as err:
        part.unlink(missing_ok=True)
        raise DataError(f"downloading {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        part.unlink(missing_ok=True)
        reason = getattr(err, "reason", None) or err
        raise DataError(
            f"downloading {url} failed ({reason}); check the network or --base-url"
        ) from None
    if digest.hexdigest() != sha256:
        part.unlink(missing_ok=True)
        raise DataError(
            f"checksum mismatch for {target.name} from {url}: SHA-256 {digest.hexdigest()[:16]}..., "
            f"expected {sha256[:16]}...; the file was not kept"
        )
    os.replace(part, target)


