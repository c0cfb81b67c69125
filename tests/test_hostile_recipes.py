"""Recipes from strangers (pull requests run `validate` and `plan` in CI): nothing from the machine's files
reaches the output, system paths and special files are refused quickly, and every refusal is positioned."""

from __future__ import annotations

import os
import time

import pytest

from conftest import REGRESSION, write

SECRET = "FAKE_SECRET_TOKEN_3f9a"


@pytest.mark.parametrize("path, words", [
    ("/proc/self/environ", "is a system path"),
    ("/usr", "is a system path"),
    ("/", "is a system path"),
    ("/dev/zero", "is a system path"),
    ("fifo.csv", "is not a regular file"),
    ("notes.txt", "is not a table file"),
    ("empty-folder", "folder without text data files"),
])
def test_data_paths_that_are_not_data_are_refused_quickly_without_their_content(run_cli, workspace, monkeypatch,
                                                                                 path, words):
    monkeypatch.setenv(SECRET, "s3cr3t-value")
    os.mkfifo(workspace / "fifo.csv")
    (workspace / "notes.txt").write_text(f"{SECRET}=s3cr3t-value\n")
    (workspace / "empty-folder").mkdir()
    recipe = write(workspace, "r.yaml", REGRESSION.replace("path: table.csv", f"path: {path}").replace(
        "target: activations", "target: nope"))
    started = time.monotonic()
    for fmt in ("text", "json", "github"):
        code, out, err = run_cli("validate", recipe, "--format", fmt)
        assert code == 2 and words in out + err and "r.yaml" in out + err and ("4" in out + err)
        assert "s3cr3t" not in out + err and SECRET not in out + err
    assert time.monotonic() - started < 5


def test_a_header_that_does_not_look_like_column_names_is_not_listed(run_cli, workspace):
    (workspace / "odd.csv").write_text("PATH=/usr/bin:/bin," + "x" * 200 + "\n1,2\n")
    recipe = write(workspace, "r.yaml", REGRESSION.replace("path: table.csv", "path: odd.csv"))
    code, _, err = run_cli("validate", recipe)
    assert code == 2 and "column `activations` is not in odd.csv" in err
    assert "PATH=" not in err and "xxxx" not in err and "check its header" in err
