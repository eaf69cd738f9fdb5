"""`seq2seq download an4` and `seq2seq download librispeech`: public speech corpora as manifests.

    seq2seq download an4 --out data/an4                       # 64 MB: train.tsv, test.tsv
    seq2seq download librispeech --subset dev-clean,test-clean,train-clean-100 --out data/libri

AN4 (CMU's alphanumeric corpus, 1991: about 1 hour of 16 kHz speech from 74 speakers spelling
names, numbers and dates) comes as one archive of NIST SPHERE files with its transcriptions
(``an4/etc/an4_{train,test}.transcription``: ``<s> TEXT </s> (an251-fash-b)`` lines, the audio at
``an4/wav/an4{,test}_clstk/<speaker>/<id>.sph``). LibriSpeech (Panayotov et al. 2015: read
audiobooks, 16 kHz FLAC) comes as one archive per subset, ``LibriSpeech/<subset>/<speaker>/
<chapter>/`` holding the FLAC files and ``<speaker>-<chapter>.trans.txt`` (``ID TEXT`` lines).

Each archive is fetched with `download.fetch` (through ``<name>.part``, resumed with a range
request, renamed only when its SHA-256 matches) into ``OUT/archives/``, unpacked (members checked:
no absolute paths, no ``..``, only files and folders) and turned into manifests of
``audio<TAB>transcript`` lines, paths relative to OUT, transcripts lower-cased (AN4's ``<s>``
markers dropped), which `seq2seq prepare --manifest` reads. A subset already unpacked (its marker
file written after the last member) is not unpacked again, so running the command again resumes.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

from seq2seq.data.download import ByteProgress, _make_dir, fetch, sha256_of
from seq2seq.data.io import AtomicTextFile, clean_line, write_atomic
from seq2seq.errors import DataError

AN4_BASE_URL = "http://www.speech.cs.cmu.edu/databases/an4/"
AN4_ARCHIVE = "an4_sphere.tar.gz"
# SHA-256 of an4_sphere.tar.gz as a public copy of it is published (not recomputed here: this
# machine reaches no network; a mismatch stops the download with both digests' first digits).
AN4_SHA256 = "a0525579493735d32b60fb6fa5975dd0eaacde087b0a4eeb7f13b7ef33077b12"
AN4_SPLITS = {"train": "an4_clstk", "test": "an4test_clstk"}

LIBRISPEECH_BASE_URL = "https://www.openslr.org/resources/12/"
# SHA-256 of each subset's archive (OpenSLR resource 12; the digests torchaudio checks).
LIBRISPEECH_SHA256: dict[str, str] = {
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
    "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
    "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
}
DEFAULT_SUBSETS = ("dev-clean", "test-clean", "train-clean-100")


def _get(
    base_url: str, name: str, out: Path, sha256: str, progress, timeout: float
) -> tuple[Path, str]:
    """(the archive in OUT/archives, "present" | "downloaded")."""
    archives = out / "archives"
    _make_dir(archives, out)
    target = archives / name
    if target.is_file() and sha256_of(target) == sha256:
        return target, "present"
    base = base_url if base_url.endswith("/") else base_url + "/"
    fetch(base + name, target, sha256, progress=progress, timeout=timeout)
    return target, "downloaded"


def unpack(archive: Path, out: Path, marker: Path) -> str:
    """Unpack `archive` into `out` unless `marker` says it was; "present" or "unpacked".

    Members are checked first: an absolute path, a ``..`` or anything but a file or a folder
    stops with a DataError and nothing unpacked."""
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == archive.name:
        return "present"
    marker.unlink(missing_ok=True)
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                parts = Path(member.name).parts
                if (
                    member.name.startswith("/")
                    or ".." in parts
                    or not (member.isfile() or member.isdir())
                ):
                    raise DataError(
                        f"{archive.name} holds {member.name!r}, which is not a plain file inside "
                        "the archive; nothing was unpacked"
                    )
            tar.extractall(out, members=members)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(
            f"cannot unpack {archive.name} ({err}); delete it and download again"
        ) from None
    write_atomic(marker, (archive.name + "\n").encode("utf-8"))
    return "unpacked"


def _write_manifest(path: Path, rows: Iterator[tuple[str, str]]) -> int:
    """Write ``audio<TAB>transcript`` lines atomically; the number written."""
    count = 0
    with AtomicTextFile(path) as handle:
        for audio, text in rows:
            handle.write(f"{audio}\t{text}\n")
            count += 1
    return count


# ---------------------------------------------------------------------------------------------
# AN4

_AN4_LINE = re.compile(r"^(.*)\(([^()\s]+)\)\s*$")


def an4_rows(root: Path, split: str) -> Iterator[tuple[str, str]]:
    """(audio path relative to `root`, transcript) of an AN4 split unpacked under root/an4."""
    listing = root / "an4" / "etc" / f"an4_{split}.transcription"
    if not listing.is_file():
        raise DataError(f"{listing} is missing; is the archive AN4's an4_sphere.tar.gz?")
    for lineno, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        match = _AN4_LINE.match(line)
        if match is None:
            raise DataError(f"{listing}:{lineno}: expected 'TEXT (utterance-id)'")
        text = clean_line(match[1].replace("<s>", " ").replace("</s>", " ")).lower()
        utterance = match[2]
        speaker = utterance.split("-")[1] if utterance.count("-") >= 2 else ""
        audio = Path("an4") / "wav" / AN4_SPLITS[split] / speaker / f"{utterance}.sph"
        if not (root / audio).is_file():
            raise DataError(f"{listing}:{lineno}: the audio file {root / audio} is missing")
        yield audio.as_posix(), text


def download_an4(
    out_dir: str | Path,
    base_url: str = AN4_BASE_URL,
    progress: ByteProgress | None = None,
    timeout: float = 60.0,
) -> dict[str, str]:
    """Fetch and unpack AN4 into `out_dir`; write `out_dir`/train.tsv and test.tsv. Returns
    {name: "downloaded" | "present" | "unpacked" | "written"}."""
    out = Path(out_dir)
    archive, state = _get(base_url, AN4_ARCHIVE, out, AN4_SHA256, progress, timeout)
    done = {AN4_ARCHIVE: state, "an4/": unpack(archive, out, out / ".an4.unpacked")}
    for split in AN4_SPLITS:
        _write_manifest(out / f"{split}.tsv", an4_rows(out, split))
        done[f"{split}.tsv"] = "written"
    return done


# ---------------------------------------------------------------------------------------------
# LibriSpeech


def librispeech_subsets(names: tuple[str, ...]) -> tuple[str, ...]:
    """The subsets asked for, checked: a DataError names an unknown one and lists the others."""
    for name in names:
        if name not in LIBRISPEECH_SHA256:
            raise DataError(
                f"LibriSpeech has the subsets {', '.join(LIBRISPEECH_SHA256)}, not '{name}'"
            )
    if not names:
        raise DataError("name at least one LibriSpeech subset (e.g. --subset dev-clean)")
    return names


def librispeech_rows(root: Path, subset: str) -> Iterator[tuple[str, str]]:
    """(FLAC path relative to `root`, transcript) of a subset unpacked under root/LibriSpeech,
    in the order of its sorted transcript files."""
    folder = root / "LibriSpeech" / subset
    listings = sorted(folder.glob("*/*/*.trans.txt"))
    if not listings:
        raise DataError(f"{folder} holds no */*/*.trans.txt; is the archive LibriSpeech's?")
    for listing in listings:
        for lineno, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
            utterance, _, text = line.strip().partition(" ")
            if not utterance:
                continue
            audio = listing.parent / f"{utterance}.flac"
            if not text or not audio.is_file():
                what = "has no transcript" if not text else f"names {audio.name}, which is missing"
                raise DataError(f"{listing}:{lineno}: {utterance} {what}")
            yield audio.relative_to(root).as_posix(), clean_line(text).lower()


def download_librispeech(
    out_dir: str | Path,
    subsets: tuple[str, ...] = DEFAULT_SUBSETS,
    base_url: str = LIBRISPEECH_BASE_URL,
    progress: ByteProgress | None = None,
    timeout: float = 60.0,
) -> dict[str, str]:
    """Fetch and unpack the subsets into `out_dir`; write `out_dir`/<subset>.tsv for each."""
    out = Path(out_dir)
    done: dict[str, str] = {}
    for subset in librispeech_subsets(subsets):
        name = f"{subset}.tar.gz"
        archive, done[name] = _get(
            base_url, name, out, LIBRISPEECH_SHA256[subset], progress, timeout
        )
        done[f"LibriSpeech/{subset}/"] = unpack(archive, out, out / f".{subset}.unpacked")
        _write_manifest(out / f"{subset}.tsv", librispeech_rows(out, subset))
        done[f"{subset}.tsv"] = "written"
    return done
