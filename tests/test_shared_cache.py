"""A team's shared cache of finished steps: one machine applies and pushes, another pulls instead of running
(outputs checked against their hashes), in a shared folder and over SFTP to a real OpenSSH server; a
tampered or unreachable cache is a warning and the step runs here."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from conftest import REGRESSION, apt_install, write


def _machine(root: Path, name: str, workspace: Path, url: str) -> Path:
    """A checkout on another machine: the same data and recipe, its own run directory."""
    folder = root / name
    folder.mkdir()
    shutil.copy(workspace / "table.csv", folder / "table.csv")
    write(folder, "r.yaml", REGRESSION + f"cache: {{url: {json.dumps(url)}}}\n")
    return folder


def _fit_models(folder: Path) -> dict[str, bytes]:
    [models] = (folder / "runs" / "forecast").glob("fit-*/out/models")
    return {p.name: p.read_bytes() for p in models.iterdir()}


def test_a_step_applied_on_one_machine_is_pulled_on_another(workspace, run_cli, tmp_path):
    cache = tmp_path / "team-cache"
    first, second = (_machine(tmp_path, name, workspace, str(cache)) for name in ("first", "second"))
    code, out, err = run_cli("apply", "r.yaml", "-q", cwd=first)
    assert code == 0, out + err
    assert len(list(cache.glob("*/entry.json"))) == 2                      # features and fit, entries written last
    code, out, err = run_cli("plan", "r.yaml", "--detailed-exitcode", cwd=second)
    assert code == 0 and f"cache: {cache} (pull and push)" in out       # nothing would run: the team has it all
    assert out.count("new (in the shared cache: apply pulls it)") == 2, out
    own = REGRESSION.replace("name: forecast", "name: own") + f"cache: {{url: '{cache}', pull: false}}\n"
    write(second, "own.yaml", own)
    assert run_cli("plan", "own.yaml", "--detailed-exitcode", cwd=second)[0] == 2   # this one does not pull
    code, out, err = run_cli("apply", "r.yaml", "-q", cwd=second)
    assert code == 0, out + err
    assert out.count("pulled") >= 2 and "warning" not in err
    assert not list((second / "runs" / "forecast").glob("*/log.txt"))     # nothing ran here
    assert _fit_models(second) == _fit_models(first)
    state = json.loads((second / "runs" / "forecast" / "state.json").read_text())
    assert state["steps"]["fit"]["pulled"] == str(cache)
    code, out, _ = run_cli("plan", "r.yaml", "--detailed-exitcode", cwd=second)
    assert code == 0                                                       # up to date: the pulled steps count
    code, out, err = run_cli("predict", "r.yaml", cwd=second)
    assert code == 0 and "forecast" in out.splitlines()[0]
    code, out, _ = run_cli("push", "r.yaml", cwd=second)
    assert code == 0 and out.count("already in") == 2


def test_a_tampered_or_unreachable_cache_is_a_warning_and_the_step_runs_here(workspace, run_cli, tmp_path):
    cache = tmp_path / "team-cache"
    first, second = (_machine(tmp_path, name, workspace, str(cache)) for name in ("first", "second"))
    assert run_cli("apply", "r.yaml", "-q", cwd=first)[0] == 0
    [archive] = [p for p in cache.glob("*/out.tar") if json.loads((p.parent / "entry.json").read_text())["kind"]
                 == "lightgbm_fit"]
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    forecaster = tmp_path / "unpacked" / "out" / "models" / "forecaster.json"
    forecaster.write_text(forecaster.read_text().replace('"transform"', '"transform" ', 1))   # same size, new bytes
    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "unpacked" / "out", arcname="out")
    code, out, err = run_cli("apply", "r.yaml", "-q", cwd=second)
    assert code == 0, out + err
    assert "models differ from the hashes it was stored with; nothing was taken" in err
    assert list((second / "runs" / "forecast").glob("fit-*/log.txt"))       # the fit ran here instead
    assert json.loads((second / "runs" / "forecast" / "state.json").read_text())["steps"]["fit"].get("pulled") is None

    third = _machine(tmp_path, "third", workspace, "sftp://nobody@127.0.0.1:9/cache")   # a port nothing serves
    started = time.monotonic()
    code, out, err = run_cli("apply", "r.yaml", "-q", cwd=third)
    assert code == 0, out + err
    assert "cannot open it" in err and "running without the shared cache" in err
    write(third, "r.yaml", (third / "r.yaml").read_text().replace("forecast", "fresh", 1))
    code, _, err = run_cli("plan", "r.yaml", "--detailed-exitcode", cwd=third)
    assert code == 2 and "cannot open it" in err                           # unreachable: the steps are pending
    assert time.monotonic() - started < 120


def test_a_password_in_the_cache_url_is_refused_at_its_position(workspace, run_cli):
    write(workspace, "r.yaml", REGRESSION + "cache: {url: 'sftp://me:hunter2@host/cache'}\n")
    code, out, err = run_cli("validate", "r.yaml")
    assert code == 2 and "r.yaml:14:14: cache.url: a password" in out + err and "cache.url" in out + err
    assert "hunter2" not in out + err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sftp_server(tmp_path, monkeypatch):
    """A real OpenSSH server on 127.0.0.1 (Debian's openssh-server), with this user's key authorised and its
    host key in ~/.ssh/known_hosts of a home folder made for the test."""
    sshd = apt_install("openssh-server", "/usr/sbin/sshd")
    if sshd is None or not shutil.which("ssh-keygen"):
        pytest.skip("OpenSSH's server is not installed and could not be installed: apt-get install openssh-server")
    folder, home, port = tmp_path / "sshd", tmp_path / "home", _free_port()
    (home / ".ssh").mkdir(parents=True)
    folder.mkdir()
    for key in (folder / "host_key", home / ".ssh" / "id_ed25519"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (folder / "authorized_keys").write_text((home / ".ssh" / "id_ed25519.pub").read_text())
    host_key = (folder / "host_key.pub").read_text().split()
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {folder / 'sshd.pid'}\n"
        "Subsystem sftp internal-sftp\n")
    Path("/run/sshd").mkdir(exist_ok=True)                         # its privilege separation folder
    server = subprocess.Popen([sshd, "-D", "-e", "-f", str(folder / "sshd_config")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"sshd did not start: {server.stderr.read().decode()[-500:]}")
    monkeypatch.setenv("HOME", str(home))
    yield f"sftp://{getpass.getuser()}@127.0.0.1:{port}{tmp_path / 'remote-cache'}", home
    server.terminate()
    server.wait(timeout=10)


def test_the_shared_cache_works_over_sftp_with_a_known_host_only(workspace, run_cli, tmp_path, sftp_server):
    url, home = sftp_server
    first, second = (_machine(tmp_path, name, workspace, url) for name in ("first", "second"))
    code, out, err = run_cli("apply", "r.yaml", "-q", cwd=first)
    assert code == 0 and "warning" not in err, out + err
    assert len(list((tmp_path / "remote-cache").glob("*/entry.json"))) == 2   # written through the server
    code, out, _ = run_cli("plan", "r.yaml", cwd=second)
    assert f"cache.url: {url}" in out                                      # a network destination for reviewers
    shutil.rmtree(second / "runs", ignore_errors=True)
    code, out, err = run_cli("pull", "r.yaml", cwd=second)
    assert code == 0 and out.count("pulled") == 2, out + err
    assert _fit_models(second) == _fit_models(first)

    (home / ".ssh" / "known_hosts").write_text("")                      # a server this machine does not know
    third = _machine(tmp_path, "third", workspace, url)
    code, out, err = run_cli("pull", "r.yaml", cwd=third)
    assert code == 1 and "is not in ~/.ssh/known_hosts" in err
