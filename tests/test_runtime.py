"""runtime: glibc's malloc keeps freed large buffers (no page faults at every search step)."""

from __future__ import annotations

import platform
import sys

import pytest

from seq2seq.runtime import keep_freed_memory


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt is glibc's",
)
def test_malloc_tuning_is_accepted_by_glibc():
    assert keep_freed_memory() is True


def test_the_command_applies_it_before_running_a_sub_command(monkeypatch, tmp_path):
    import seq2seq.commands as cli

    called = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: called.append(True))
    missing = str(tmp_path / "missing.txt")
    code = cli.main(["evaluate", "--src", missing, "--ref", missing, "--hyp", missing])
    assert code == 2 and called == [True]
