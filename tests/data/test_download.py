"""`seq2seq download` against a local HTTP server (no other network) serving stand-ins made from the
committed EN->FR slice under the published file names (Multi30k's files; WMT'14's archives), the
checksum tables pointed at them."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import json
import re
import shutil
import tarfile
import threading
from pathlib import Path

import pytest

from seq2seq.cli import main
from seq2seq.data.download import MULTI30K_SHA256, download_multi30k, multi30k_files, sha256_of
from seq2seq.errors import DataError

# The published files, where a copy is at hand; no test needs it.
REAL_MULTI30K = Path(__file__).resolve().parents[3] / "shared" / "data" / "multi30k"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve():
    """Start an HTTP server on 127.0.0.1 (random port) for a directory; returns its base URL."""
    servers = []

    def start(directory) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mirror(corpus, tmp_path, monkeypatch) -> Path:
    """A directory with every file of `multi30k_files()`: the slice's split of the same role
    (German, which the slice lacks, stood in for by its English), gzipped again so that each
    file's header names it and no two files are alike; the module's checksum table is patched,
    for this test only, to these files' SHA-256s (computed with hashlib, not `sha256_of`)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    splits = {"train": "train", "val": "valid", "test_2016_flickr": "test"}
    for name in multi30k_files():
        split, lang, _ = name.rsplit(".", 2)
        with gzip.open(corpus / f"{splits[split]}.{'en' if lang == 'de' else lang}.gz") as handle:
            text = handle.read()
        with gzip.open(folder / name, "wb") as handle:
            handle.write(text)
        monkeypatch.setitem(MULTI30K_SHA256, name, _sha256(folder / name))
    assert len(set(MULTI30K_SHA256.values())) == len(MULTI30K_SHA256) == 9
    return folder


def test_checksum_table_lists_every_file_once():
    assert sorted(MULTI30K_SHA256) == sorted(multi30k_files())
    assert len(MULTI30K_SHA256) == 9 and len(set(MULTI30K_SHA256.values())) == 9
    assert all(re.fullmatch("[0-9a-f]{64}", digest) for digest in MULTI30K_SHA256.values())
    if REAL_MULTI30K.is_dir():  # a copy of the published files is at hand: the digests are theirs
        for name, digest in MULTI30K_SHA256.items():
            assert sha256_of(REAL_MULTI30K / name) == digest


def test_sha256_of_equals_hashlib(corpus, tmp_path):
    for path in sorted(corpus.glob("*.gz")):
        assert sha256_of(path) == _sha256(path)
    large = tmp_path / "large.bin"  # several of its 1 MiB reads
    large.write_bytes(bytes(range(256)) * 12_000)
    assert sha256_of(large) == _sha256(large)


def test_download_all_then_skip_present_files(mirror, serve, tmp_path, capsys):
    url = serve(mirror)
    out = tmp_path / "m30k"
    assert main(["download", "multi30k", "--out", str(out), "--base-url", url]) == 0
    assert "9 file(s) downloaded, 0 already present" in capsys.readouterr().out
    for name in multi30k_files():
        assert (out / name).read_bytes() == (mirror / name).read_bytes()
    assert not list(out.glob("*.part"))
    # a damaged local copy is fetched again; intact ones are left alone
    (out / "val.fr.gz").write_bytes(b"garbage")
    stamp = (out / "train.en.gz").stat().st_mtime_ns
    assert download_multi30k(out, url, progress=False)["val.fr.gz"] == "downloaded"
    assert sha256_of(out / "val.fr.gz") == MULTI30K_SHA256["val.fr.gz"]
    assert (out / "train.en.gz").stat().st_mtime_ns == stamp


def test_corrupted_server_file_is_one_sentence(mirror, serve, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in multi30k_files(("en",)):
        shutil.copy(mirror / name, damaged / name)
    data = bytearray((damaged / "val.en.gz").read_bytes())
    data[100] ^= 0xFF
    (damaged / "val.en.gz").write_bytes(bytes(data))
    out, url = tmp_path / "out", serve(damaged)
    args = ["download", "multi30k", "--out", str(out), "--base-url", url, "--langs", "en"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("seq2seq download: error: checksum mismatch for val.en.gz")
    assert (out / "train.en.gz").is_file()  # files before it were kept
    assert not (out / "val.en.gz").exists() and not (out / "val.en.gz.part").exists()


def test_missing_file_on_server_and_unknown_language(serve, tmp_path):
    url = serve(tmp_path)  # an empty directory: every file is a 404
    with pytest.raises(DataError, match=r"train\.en\.gz failed: HTTP 404"):
        download_multi30k(tmp_path / "out", url, languages=("en",), progress=False)
    with pytest.raises(DataError, match="not 'xx'"):
        download_multi30k(tmp_path / "out", url, languages=("xx",), progress=False)


# ---------------------------------------------------------------------------------------------
# WMT'14 English-French: archives built here with the published members' names, served by a
# local server that honours range requests and can cut a transfer short.


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with HTTP range requests; `state["cut"]` names paths whose next response
    stops after half its body; `state["requests"]` records (path, Range header)."""

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
        data = path.read_bytes()
        wanted = self.headers.get("Range")
        self.state["requests"].append((self.path, wanted))
        start = int(wanted.split("=")[1].split("-")[0]) if wanted else 0
        if start >= len(data) > 0 and wanted:
            self.send_error(416)
            return
        self.send_response(206 if wanted else 200)
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in self.state["cut"]:
            self.state["cut"].discard(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def range_server():
    servers = []

    def start(directory, cut=()):
        state = {"cut": set(cut), "requests": []}
        handler = functools.partial(_RangeHandler, directory=str(directory), state=state)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/", state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _tar(path: Path, members: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz" if path.suffix == ".tgz" else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _sgml(lines: list[str]) -> bytes:
    segs = "".join(f'<seg id="{i}">{line}</seg>\n' for i, line in enumerate(lines, 1))
    return f'<srcset setid="x">\n<doc docid="d">\n{segs}</doc>\n</srcset>\n'.encode()


@pytest.fixture
def wmt_mirror(corpus, tmp_path, monkeypatch) -> dict:
    """A statmt.org stand-in: Europarl and the 10^9 corpus (its members gzipped inside a plain
    tar) from the committed slice's train split, and the dev / test archives holding newstest
    sets in SGML; the module's MD5 table patched, for this test only, to these files."""
    from seq2seq.data import download

    def lines(split, lang):
        with gzip.open(corpus / f"{split}.{lang}.gz", "rt", encoding="utf-8") as handle:
            return handle.read().splitlines()

    en, fr = lines("train", "en"), lines("train", "fr")
    root = tmp_path / "statmt"
    files = {
        "europarl": {"training/europarl-v7.fr-en.en": "\n".join(en[:700]) + "\n",
                     "training/europarl-v7.fr-en.fr": "\n".join(fr[:700]) + "\n"},
        "giga": {"giga-fren.release2.fixed.en.gz": gzip.compress(("\n".join(en[700:]) + "\n").encode()),
                 "giga-fren.release2.fixed.fr.gz": gzip.compress(("\n".join(fr[700:]) + "\n").encode())},
        "dev": {f"dev/newstest{year}-{kind}.{lang}.sgm": _sgml(lines("valid", lang)[: 40 + year % 2])
                for year in (2012, 2013) for kind, lang in (("src", "en"), ("ref", "fr"))},
        "test": {"test-full/newstest2014-fren-src.en.sgm": _sgml(["Fish &amp; chips &lt;3", "Two"]),
                 "test-full/newstest2014-fren-ref.fr.sgm": _sgml(["Poisson &amp; frites", "Deux"])},
    }  # fmt: skip
    for key, members in files.items():
        archive = download.WMT14_ARCHIVES[key]
        data = {k: v.encode() if isinstance(v, str) else v for k, v in members.items()}
        _tar(root / archive.path, data)
        md5 = hashlib.md5((root / archive.path).read_bytes()).hexdigest()
        monkeypatch.setitem(download.WMT14_ARCHIVES, key, download.Archive(archive.path, md5))
    return {"root": root, "en": en, "fr": fr}


def test_wmt14_downloads_resume_and_unpack_aligned_text(wmt_mirror, range_server, tmp_path):
    from seq2seq.data.download import WMT14_ARCHIVES, download_wmt14_en_fr

    giga = "/" + WMT14_ARCHIVES["giga"].path
    url, state = range_server(wmt_mirror["root"], cut=[giga])
    out = tmp_path / "wmt14"
    corpora = ("europarl", "giga")
    # the giga archive's transfer stops half-way: what came is kept for the next run
    with pytest.raises(
        DataError, match=r"training-giga-fren\.tar stopped after [\d,]+ bytes.*again"
    ):
        download_wmt14_en_fr(out, url, corpora, progress=False)
    part = out / "archives" / "training-giga-fren.tar.part"
    half = part.stat().st_size
    assert 0 < half < (wmt_mirror["root"] / WMT14_ARCHIVES["giga"].path).stat().st_size
    assert (out / "archives" / "training-parallel-europarl-v7.tgz").is_file()  # before it: kept
    assert not (out / "train.en").exists()

    done = download_wmt14_en_fr(out, url, corpora, progress=False)
    assert (giga, f"bytes={half}-") in state["requests"]  # only the rest was asked for
    assert done["training-giga-fren.tar"] == "downloaded"
    assert done["training-parallel-europarl-v7.tgz"] == "present"
    assert not list(out.rglob("*.part"))
    assert (out / "train.en").read_text().splitlines() == wmt_mirror["en"]
    assert (out / "train.fr").read_text().splitlines() == wmt_mirror["fr"]
    assert len((out / "newstest2012.en").read_text().splitlines()) == 40
    assert len((out / "newstest2013.fr").read_text().splitlines()) == 41
    assert (out / "newstest2014.en").read_text() == "Fish & chips <3\nTwo\n"
    assert (out / "newstest2014.fr").read_text() == "Poisson & frites\nDeux\n"
    summary = json.loads((out / "wmt14-en-fr.json").read_text())
    assert summary["lines"] == {"europarl": 700, "giga": 1300, "newstest2012": 40,
                                "newstest2013": 41, "newstest2014": 2}  # fmt: skip

    before = len(state["requests"])
    done = download_wmt14_en_fr(out, url, corpora, progress=False)  # all there: nothing to do
    assert set(done.values()) == {"present"} and len(state["requests"]) == before


def test_wmt14_server_without_ranges_bad_archive_and_cli(
    wmt_mirror, serve, tmp_path, capsys, monkeypatch
):
    from seq2seq.data.download import WMT14_ARCHIVES, download_wmt14_en_fr

    url = serve(wmt_mirror["root"])  # SimpleHTTPRequestHandler ignores Range: sends it all again
    out = tmp_path / "wmt14"
    (out / "archives").mkdir(parents=True)
    stale = out / "archives" / "training-parallel-europarl-v7.tgz.part"
    stale.write_bytes(b"\x1f\x8b stale bytes of an older run")
    args = [
        "download",
        "wmt14-en-fr",
        "--out",
        str(out),
        "--base-url",
        url,
        "--corpora",
        "europarl",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "3 archive(s) downloaded, 0 already present" in printed and "seq2seq prepare" in printed
    assert (out / "train.en").read_text().splitlines() == wmt_mirror["en"][:700]

    # an archive whose two sides differ in length is refused, and no train file is left half-made
    root = wmt_mirror["root"]
    path = root / WMT14_ARCHIVES["europarl"].path
    _tar(
        path, {"training/europarl-v7.fr-en.en": b"a\nb\n", "training/europarl-v7.fr-en.fr": b"a\n"}
    )
    from seq2seq.data.download import Archive

    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setitem(WMT14_ARCHIVES, "europarl", Archive(WMT14_ARCHIVES["europarl"].path, md5))
    other = tmp_path / "other"
    with pytest.raises(DataError, match="europarl: 2 English lines but 1 French lines"):
        download_wmt14_en_fr(other, url, ("europarl",), progress=False)
    assert not (other / "train.en").exists() and not list(other.glob(".*seq2seq-tmp-*"))

    assert main(["download", "wmt14-en-fr", "--out", str(other), "--corpora", "hansard"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not 'hansard'" in err
