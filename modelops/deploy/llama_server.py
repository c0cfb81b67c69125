"""llama-cpp-python's OpenAI-compatible server for a GGUF: started in the background on a free local port
for smoke tests and `modelops chat`, or in the foreground for users. It runs as `python -m
modelops.deploy.llama_server` (llama_cpp.server's own entry point, after `llama_runtime.configure()` has
chosen the weight-repack setting that is safe on this CPU)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from modelops.processes import crash_hint, exit_description


def server_command(gguf: Path, host: str, port: int, n_ctx: int, lora: Path | None = None) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "modelops.deploy.llama_server",
        "--model",
        str(gguf),
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--model_alias",
        gguf.stem,
    ]
    return command + (["--lora_path", str(lora)] if lora else [])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class BackgroundLlamaServer:
    """`with BackgroundLlamaServer(gguf) as url:` — the server runs until the block ends."""

    def __init__(self, gguf: Path, n_ctx: int = 2048, lora: Path | None = None, log: Path | None = None):
        self.port = free_port()
        self.command = server_command(gguf, "127.0.0.1", self.port, n_ctx, lora)
        self.log = log

    def __enter__(self) -> str:
        import httpx

        output = self.log.open("wb") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(self.command, stdout=output, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the llama.cpp server {self.ended()}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("the llama.cpp server did not answer within 120 s")

    def ended(self) -> str | None:
        """How the server ended, when it has (with a hint), or None while it runs."""
        code = self.process.poll()
        if code is None:
            return None
        hint = crash_hint(code)
        return (
            f"ended ({exit_description(code)})"
            + (f"; see {self.log}" if self.log else "")
            + (f"\nhint: {hint}" if hint else "")
        )

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _serve() -> None:
    from llama_cpp.server.__main__ import main as llama_cpp_server

    from modelops.deploy.llama_runtime import configure

    print(f"llama.cpp weight repack: {configure().reason}", file=sys.stderr, flush=True)
    llama_cpp_server()


if __name__ == "__main__":
    _serve()
