"""Reading parallel text: plain and gzip, TSV, and every bad input ending in one clear DataError."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from seq2seq.cli import main
from seq2seq.data.io import (
    ParallelSource,
    ReadStats,
    count_lines,
    guess_language,
    iter_lines,
    read_parallel,
    read_tsv,
)
from seq2seq.errors import DataError


def write(path: Path, text: str | bytes, gz: bool = False) -> Path:
    data = text.encode("utf-8") if isinstance(text, str) else text
    if gz:
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path


def test_plain_and_gzip_give_the_same_cleaned_pairs(tmp_path):
    src_text = "  a  b\tc \nd\r\n\ufeffe\n"  # odd spaces, CRLF, a stray BOM inside a line
    tgt_text = "x\ny  z\nw"  # no newline at the end
    expected = [("a b c", "x"), ("d", "y z"), ("\ufeffe", "w")]
    for gz in (False, True):
        src = write(tmp_path / f"s{gz}.txt", src_text, gz)
        tgt = write(tmp_path / f"t{gz}.txt", tgt_text, gz)
        stats = ReadStats()
        assert list(read_parallel(src, tgt, stats=stats)) == expected
        assert (stats.lines, stats.pairs, stats.empty, stats.too_long) == (3, 3, 0, 0)


def test_byte_order_mark_at_file_start_is_dropped(tmp_path):
    path = write(tmp_path / "bom.txt", "\ufefffirst\nsecond\n")
    assert list(iter_lines(path)) == ["first", "second"]


def test_reading_is_lazy(tmp_path):
    src = write(tmp_path / "s.txt", b"a\n" * 5 + b"\xff\n")  # line 6 is bad; lines 1-5 come first
    tgt = write(tmp_path / "t.txt", "b\n" * 6)
    pairs = read_parallel(src, tgt)
    assert [next(pairs) for _ in range(5)] == [("a", "b")] * 5
    with pytest.raises(DataError, match=r"s\.txt:6: invalid UTF-8"):
        next(pairs)


def test_count_lines(tmp_path):
    assert count_lines(write(tmp_path / "a", "x\ny\n")) == 2
    assert count_lines(write(tmp_path / "b", "x\ny")) == 2
    assert count_lines(write(tmp_path / "c", "")) == 0
    assert count_lines(write(tmp_path / "d.gz", "1\n2\n3\n", gz=True)) == 3


def test_missing_file(tmp_path):
    tgt = write(tmp_path / "t.txt", "x\n")
    with pytest.raises(DataError, match=r"file .*nope\.en does not exist"):
        list(read_parallel(tmp_path / "nope.en", tgt))


@pytest.mark.parametrize("n_src,n_tgt", [(5, 3), (3, 5)])
def test_misaligned_files_name_both_files_and_counts(tmp_path, n_src, n_tgt):
    src = write(tmp_path / "train.en", "s\n" * n_src)
    tgt = write(tmp_path / "train.fr", "t\n" * n_tgt)
    with pytest.raises(DataError) as err:
        list(read_parallel(src, tgt))
    msg = str(err.value)
    assert f"{src} has {n_src} lines" in msg and f"{tgt} has {n_tgt}" in msg


@pytest.mark.parametrize("gz", [False, True])
def test_invalid_utf8_names_file_and_line(tmp_path, gz):
    src = write(tmp_path / "s.txt", b"ok\nfine\ncaf\xe9 latin-1\nmore\n", gz)
    tgt = write(tmp_path / "t.txt", "a\nb\nc\nd\n", gz)
    with pytest.raises(DataError, match=rf"{src}:3: invalid UTF-8 \(byte 0xe9 at byte 4"):
        list(read_parallel(src, tgt))


def test_empty_lines_skip_counts_them(tmp_path):
    src = write(tmp_path / "s.txt", "a\n\nc\n  \ne\n")
    tgt = write(tmp_path / "t.txt", "A\nB\n\nD\nE\n")
    stats = ReadStats()
    assert list(read_parallel(src, tgt, stats=stats)) == [("a", "A"), ("e", "E")]
    assert (stats.lines, stats.pairs, stats.empty) == (5, 2, 3)


def test_empty_lines_error_names_the_empty_side(tmp_path):
    src = write(tmp_path / "s.txt", "a\nb\nc\n")
    tgt = write(tmp_path / "t.txt", "A\nB\n \n")
    with pytest.raises(DataError, match=rf"{tgt}:3: empty line"):
        list(read_parallel(src, tgt, empty_lines="error"))


def test_max_tokens_drops_and_counts_long_pairs(tmp_path):
    src = write(tmp_path / "s.txt", "a b c\na\na b\n")
    tgt = write(tmp_path / "t.txt", "x\nx y z w\nx y\n")
    stats = ReadStats()
    assert list(read_parallel(src, tgt, max_tokens=2, stats=stats)) == [("a b", "x y")]
    assert stats.too_long == 2 and stats.pairs == 1


def test_truncated_gzip_is_reported(tmp_path):
    full = write(tmp_path / "full.gz", "line\n" * 20_000, gz=True).read_bytes()
    cut = write(tmp_path / "cut.gz", full[: len(full) // 2])
    with pytest.raises(
        DataError, match=r"cut\.gz: cannot read past line \d+ .*truncated or corrupt"
    ):
        list(iter_lines(cut))


def test_tsv_pairs_and_extra_columns(tmp_path):
    path = write(tmp_path / "p.tsv", "Hi.\tSalut.\tCC-BY attribution\nGo  now\tVas-y\n\n")
    stats = ReadStats()
    assert list(read_tsv(path, stats=stats)) == [("Hi.", "Salut."), ("Go now", "Vas-y")]
    assert stats.empty == 1


def test_tsv_line_without_tab(tmp_path):
    path = write(tmp_path / "p.tsv", "a\tb\nno tab here\n")
    with pytest.raises(DataError, match=rf"{path}:2: no tab between source and target"):
        list(read_tsv(path))


def test_tsv_empty_field_error(tmp_path):
    path = write(tmp_path / "p.tsv", "a\tb\nc\t \n")
    with pytest.raises(DataError, match=rf"{path}:2 \(target field\): empty line"):
        list(read_tsv(path, empty_lines="error"))


def test_parallel_source_needs_a_complete_description(tmp_path):
    with pytest.raises(DataError, match="both a source and a target"):
        ParallelSource(src=tmp_path / "a")
    with pytest.raises(DataError, match="not both"):
        ParallelSource(src=tmp_path / "a", tgt=tmp_path / "b", tsv=tmp_path / "c")


def test_guess_language():
    assert guess_language("data/train.en.gz") == "en"
    assert guess_language("val.fr") == "fr"
    assert guess_language("pairs.tsv") is None
    assert guess_language("corpus.txt.gz") is None


def test_real_corpus_is_aligned(corpus):
    stats = ReadStats()
    n = sum(1 for _ in read_parallel(corpus / "train.en.gz", corpus / "train.fr.gz", stats=stats))
    assert n == 2_000 and stats.empty == 0
    assert count_lines(corpus / "valid.fr.gz") == 100


# ---------------------------------------------------------------------------------------------
# The same bad inputs through the command line: exit status 2, one line on stderr, no traceback.


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    good_s = write(tmp_path / "good.en", "a b\nc d\n")
    good_t = write(tmp_path / "good.fr", "x y\nz w\n")
    short = write(tmp_path / "short.fr", "x y\n")
    latin = write(tmp_path / "latin.en", b"a b\n\xe9t\xe9\n")
    holes = write(tmp_path / "holes.fr", "x y\n\n")
    no_tab = write(tmp_path / "no_tab.tsv", "a\tb\nc d\n")
    return {
        "missing": (
            ["--src", str(tmp_path / "missing.en"), "--tgt", str(good_t)],
            "does not exist",
        ),
        "misaligned": (["--src", str(good_s), "--tgt", str(short)], "has 2 lines but target"),
        "utf8": (["--src", str(latin), "--tgt", str(good_t)], f"{latin}:2: invalid UTF-8"),
        "empty": (
            ["--src", str(good_s), "--tgt", str(holes), "--empty-lines", "error"],
            f"{holes}:2: empty line",
        ),
        "tsv": (["--tsv", str(no_tab)], f"{no_tab}:2: no tab"),
        "half": (["--src", str(good_s)], "--src and --tgt go together"),
    }


@pytest.mark.parametrize("case", ["missing", "misaligned", "utf8", "empty", "tsv", "half"])
def test_cli_reports_bad_input_in_one_line(tmp_path, capsys, case):
    args, expected = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out"
    assert main(["prepare", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("seq2seq prepare: error: ") and expected in err
    assert "Traceback" not in err
    assert not (out / "manifest.json").exists()
    assert not list(out.glob("*.part")) and not list(out.glob(".*.seq2seq-tmp-*"))


# ---------------------------------------------------------------------------------------------
# The one atomic writer


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_atomic_writer_fsyncs_the_file_then_the_folder(tmp_path, monkeypatch):
    import os
    import stat

    from seq2seq.data.io import AtomicTextFile, write_atomic

    synced: list[str] = []
    real = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: synced.append(stat.S_IFMT(os.fstat(fd).st_mode)) or real(fd)
    )
    with AtomicTextFile(tmp_path / "a.txt") as handle:
        handle.write("text\n")
    write_atomic(tmp_path / "b.bin", b"bytes")
    assert synced == [stat.S_IFREG, stat.S_IFDIR] * 2
    assert (tmp_path / "a.txt").read_text() == "text\n" and (
        tmp_path / "b.bin"
    ).read_bytes() == b"bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_stale_temporary_files_are_those_of_dead_processes(tmp_path):
    import os

    from seq2seq.data.io import AtomicTextFile, remove_stale_temps, temp_path

    dead, live = _dead_pid(), os.getppid()
    files = {
        "dead_out": tmp_path / f".out.txt.seq2seq-tmp-{dead}",
        "dead_other": tmp_path / f".other.txt.seq2seq-tmp-{dead}",
        "live_out": tmp_path / f".out.txt.seq2seq-tmp-{live}",
        "not_ours": tmp_path / ".out.txt.backup",
    }
    for path in files.values():
        path.write_text("half\n")
    assert temp_path(tmp_path / "out.txt").name == f".out.txt.seq2seq-tmp-{os.getpid()}"
    with AtomicTextFile(tmp_path / "out.txt") as handle:  # removes the dead writer's, of out.txt
        handle.write("done\n")
    left = {key for key, path in files.items() if path.exists()}
    assert left == {"dead_other", "live_out", "not_ours"}
    assert remove_stale_temps(tmp_path) == [files["dead_other"]]  # the whole folder
    assert {key for key, path in files.items() if path.exists()} == {"live_out", "not_ours"}
