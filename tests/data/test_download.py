"""`seq2seq download multi30k` against a local HTTP server (no other network) serving stand-ins made
from the committed EN->FR slice under Multi30k's file names, the checksum table pointed at them."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import re
import shutil
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
