"""`seq2seq download an4` / `librispeech` against a server on 127.0.0.1 (no other network): small
stand-in archives in the published layouts (AN4's SPHERE files and transcriptions, LibriSpeech's
FLAC chapters), the checksum tables pointed at them for the test only."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest
import soundfile
from sounds import noise, tone

from seq2seq.cli import main
from seq2seq.data import speech_corpora
from seq2seq.data.prepare_audio import AudioCorpus, prepare_audio
from seq2seq.errors import DataError


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Files with HTTP range requests; `state["cut"]`: paths whose next response stops half-way;
    `state["requests"]`: (path, Range header) of each request."""

    def __init__(self, *args, state, **kwargs):
        self.state = state
        super().__init__(*args, **kwargs)

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data, wanted = path.read_bytes(), self.headers.get("Range")
        self.state["requests"].append((self.path, wanted))
        start = int(wanted.split("=")[1].split("-")[0]) if wanted else 0
        self.send_response(206 if wanted else 200)
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in self.state["cut"]:
            self.state["cut"].discard(self.path)
            body, self.close_connection = body[: len(body) // 2], True
        self.wfile.write(body)


@pytest.fixture
def server():
    """start(folder, cut=()) -> (base URL, state) of a server on 127.0.0.1 for `folder`."""
    servers = []

    def start(folder, cut=()):
        state = {"cut": set(cut), "requests": []}
        handler = functools.partial(_RangeHandler, directory=str(folder), state=state)
        http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=http_server.serve_forever, daemon=True).start()
        servers.append(http_server)
        return f"http://127.0.0.1:{http_server.server_address[1]}/", state

    yield start
    for http_server in servers:
        http_server.shutdown()
        http_server.server_close()


def _audio(fmt: str, seconds: float, seed: int) -> bytes:
    buffer = io.BytesIO()
    wave = tone(300 + 100 * seed, seconds, 16000, 0.3) + noise(seconds, 16000, 0.01, seed)
    soundfile.write(buffer, wave, 16000, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def _tar_gz(path: Path, members: dict[str, bytes]) -> str:
    """Write a .tar.gz of `members`; its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


AN4_TEXT = {
    "train": [("an251-fash-b", "YES"), ("cen7-fash-b", "ONE FIVE TWO"), ("an1-mblw-b", "RUBOUT G M")],
    "test": [("cen1-fcaw-b", "H E L L O")],
}  # fmt: skip


@pytest.fixture
def an4_mirror(tmp_path, monkeypatch) -> Path:
    """an4_sphere.tar.gz in AN4's layout: NIST SPHERE audio and the transcription files."""
    members = {}
    for split, rows in AN4_TEXT.items():
        folder = speech_corpora.AN4_SPLITS[split]
        lines = []
        for seed, (utterance, text) in enumerate(rows):
            speaker = utterance.split("-")[1]
            members[f"an4/wav/{folder}/{speaker}/{utterance}.sph"] = _audio("NIST", 0.4, seed)
            lines.append(f"<s> {text} </s> ({utterance})\n")
        members[f"an4/etc/an4_{split}.transcription"] = "".join(lines).encode()
    root = tmp_path / "cmu"
    digest = _tar_gz(root / speech_corpora.AN4_ARCHIVE, members)
    monkeypatch.setattr(speech_corpora, "AN4_SHA256", digest)
    return root


def test_an4_downloads_unpacks_and_prepares(an4_mirror, server, tmp_path):
    url, state = server(an4_mirror)
    out = tmp_path / "an4"
    done = speech_corpora.download_an4(out, url)
    assert done == {"an4_sphere.tar.gz": "downloaded", "an4/": "unpacked",
                    "train.tsv": "written", "test.tsv": "written"}  # fmt: skip
    rows = [line.split("\t") for line in (out / "train.tsv").read_text().splitlines()]
    assert rows == [
        ["an4/wav/an4_clstk/fash/an251-fash-b.sph", "yes"],
        ["an4/wav/an4_clstk/fash/cen7-fash-b.sph", "one five two"],
        ["an4/wav/an4_clstk/mblw/an1-mblw-b.sph", "rubout g m"],
    ]
    assert (
        out / "test.tsv"
    ).read_text() == "an4/wav/an4test_clstk/fcaw/cen1-fcaw-b.sph\th e l l o\n"
    data = prepare_audio(
        tmp_path / "prepared",
        AudioCorpus(manifest=out / "train.tsv"),
        test=AudioCorpus(manifest=out / "test.tsv"),
    )  # SPHERE read by soundfile, as the real AN4 files are
    assert data.manifest["splits"]["train"]["pairs"] == 3
    assert data.manifest["splits"]["train"]["seconds"] == pytest.approx(1.2)
    requests = len(state["requests"])
    again = speech_corpora.download_an4(out, url)
    assert again["an4_sphere.tar.gz"] == "present" and again["an4/"] == "present"
    assert len(state["requests"]) == requests  # nothing fetched twice


LIBRI = {
    "dev-clean": {("1272", "128104"): ["MISTER QUILTER IS THE APOSTLE", "NOR IS MISTER QUILTER'S MANNER"]},
    "train-clean-100": {("103", "1240"): ["CHAPTER ONE"], ("19", "198"): ["NORTHANGER ABBEY", "A B"]},
}  # fmt: skip


@pytest.fixture
def libri_mirror(tmp_path, monkeypatch) -> Path:
    """One archive per subset in LibriSpeech's layout: FLAC files and a .trans.txt per chapter."""
    root = tmp_path / "openslr"
    for subset, chapters in LIBRI.items():
        members = {}
        for (speaker, chapter), texts in chapters.items():
            folder = f"LibriSpeech/{subset}/{speaker}/{chapter}"
            ids = [f"{speaker}-{chapter}-{i:04d}" for i in range(len(texts))]
            for seed, utterance in enumerate(ids):
                members[f"{folder}/{utterance}.flac"] = _audio("FLAC", 0.3, seed)
            listing = "".join(f"{u} {t}\n" for u, t in zip(ids, texts))
            members[f"{folder}/{speaker}-{chapter}.trans.txt"] = listing.encode()
        digest = _tar_gz(root / f"{subset}.tar.gz", members)
        monkeypatch.setitem(speech_corpora.LIBRISPEECH_SHA256, subset, digest)
    return root


def test_librispeech_resumes_a_cut_transfer_and_writes_a_manifest_per_subset(
    libri_mirror, server, tmp_path
):
    url, state = server(libri_mirror, cut=["/train-clean-100.tar.gz"])
    out = tmp_path / "libri"
    subsets = ("dev-clean", "train-clean-100")
    with pytest.raises(DataError, match=r"train-clean-100\.tar\.gz stopped after [\d,]+ bytes"):
        speech_corpora.download_librispeech(out, subsets, url)
    half = (out / "archives" / "train-clean-100.tar.gz.part").stat().st_size
    assert (out / "dev-clean.tsv").is_file()  # the subset before it is complete
    done = speech_corpora.download_librispeech(out, subsets, url)
    assert ("/train-clean-100.tar.gz", f"bytes={half}-") in state["requests"]
    assert done["dev-clean.tar.gz"] == "present" and done["train-clean-100.tar.gz"] == "downloaded"
    assert (out / "dev-clean.tsv").read_text().splitlines() == [
        "LibriSpeech/dev-clean/1272/128104/1272-128104-0000.flac\tmister quilter is the apostle",
        "LibriSpeech/dev-clean/1272/128104/1272-128104-0001.flac\tnor is mister quilter's manner",
    ]
    train = (out / "train-clean-100.tsv").read_text().splitlines()
    assert [line.split("\t")[1] for line in train] == ["chapter one", "northanger abbey", "a b"]
    assert not list(out.rglob("*.part"))


def test_librispeech_refuses_a_bad_checksum_and_an_unknown_subset(libri_mirror, server, tmp_path):
    url, _ = server(libri_mirror)
    speech_corpora.LIBRISPEECH_SHA256["dev-clean"] = "0" * 64  # monkeypatched by the fixture
    with pytest.raises(DataError, match=r"checksum mismatch for dev-clean\.tar\.gz.*not kept"):
        speech_corpora.download_librispeech(tmp_path / "x", ("dev-clean",), url)
    assert not list((tmp_path / "x").rglob("*.tar.gz*"))
    with pytest.raises(DataError, match=r"LibriSpeech has the subsets .* not 'dev-cleen'"):
        speech_corpora.download_librispeech(tmp_path / "y", ("dev-cleen",), url)


def test_an_archive_that_escapes_its_folder_is_not_unpacked(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    _tar_gz(archive, {"an4/etc/ok.txt": b"ok", "../outside.txt": b"gotcha"})
    with pytest.raises(DataError, match=r"holds '\.\./outside\.txt'.*nothing was unpacked"):
        speech_corpora.unpack(archive, tmp_path / "out", tmp_path / "out" / ".marker")
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "out" / "an4").exists()


def test_the_command_fetches_and_says_what_to_prepare(
    libri_mirror, an4_mirror, server, tmp_path, capsys
):
    libri_url, _ = server(libri_mirror)
    out = tmp_path / "libri"
    argv = ["download", "librispeech", "--subset", "dev-clean,train-clean-100", "--out", str(out),
            "--base-url", libri_url]  # fmt: skip
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "librispeech: 2 archive(s) downloaded, 0 already present" in said
    assert f"--manifest {out}/train-clean-100.tsv --valid-manifest {out}/dev-clean.tsv" in said
    an4_url, _ = server(an4_mirror)
    assert main(["download", "an4", "--out", str(tmp_path / "an4"), "--base-url", an4_url]) == 0
    said = capsys.readouterr().out
    assert f"--manifest {tmp_path}/an4/train.tsv --test-manifest {tmp_path}/an4/test.tsv" in said
    assert main(["download", "librispeech", "--subset", "train-clean-1000", "--out", str(out)]) == 2
    assert "not 'train-clean-1000'" in capsys.readouterr().err
