"""`seq2seq download multi30k` against a local HTTP server serving the real files (no other network)."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

from seq2seq.cli import main
from seq2seq.data.download import MULTI30K_SHA256, download_multi30k, multi30k_files, sha256_of
from seq2seq.errors import DataError


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


def test_checksum_table_matches_the_shared_copy(multi30k):
    assert sorted(MULTI30K_SHA256) == sorted(multi30k_files())
    for name, digest in MULTI30K_SHA256.items():
        assert sha256_of(multi30k / name) == digest


def test_download_all_then_skip_present_files(multi30k, serve, tmp_path, capsys):
    url = serve(multi30k)
    out = tmp_path / "m30k"
    assert main(["download", "multi30k", "--out", str(out), "--base-url", url]) == 0
    assert "9 file(s) downloaded, 0 already present" in capsys.readouterr().out
    for name in multi30k_files():
        assert (out / name).read_bytes() == (multi30k / name).read_bytes()
    assert not list(out.glob("*.part"))
    # a damaged local copy is fetched again; intact ones are left alone
    (out / "val.fr.gz").write_bytes(b"garbage")
    stamp = (out / "train.en.gz").stat().st_mtime_ns
    assert download_multi30k(out, url, progress=False)["val.fr.gz"] == "downloaded"
    assert sha256_of(out / "val.fr.gz") == MULTI30K_SHA256["val.fr.gz"]
    assert (out / "train.en.gz").stat().st_mtime_ns == stamp


def test_corrupted_server_file_is_one_sentence(multi30k, serve, tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in multi30k_files(("en",)):
        shutil.copy(multi30k / name, mirror / name)
    data = bytearray((mirror / "val.en.gz").read_bytes())
    data[100] ^= 0xFF
    (mirror / "val.en.gz").write_bytes(bytes(data))
    out = tmp_path / "out"
    args = ["download", "multi30k", "--out", str(out), "--base-url", serve(mirror), "--langs", "en"]
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
