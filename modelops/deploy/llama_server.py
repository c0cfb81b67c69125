"""llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) for a GGUF: started in the
background on a free local port for smoke tests and `modelops chat`, or in the foreground for users."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path


def server_command(gguf: Path, host: str, port: int, n_ctx: int, lora: Path | None = None) -> list[str]:
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", host, "--port", str(port),
               "--n_ctx", str(n_ctx), "--model_alias", gguf.stem]
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
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}"
                                   + (f"; see {self.log}" if self.log else ""))
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("llama_cpp.server did not answer within 120 s")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
