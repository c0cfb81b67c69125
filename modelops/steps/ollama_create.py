"""Step `ollama_create`: the model created on an Ollama server through the official client (blobs pushed
unless present, `/api/create` with the Modelfile's fields, then a one-turn chat), or — with no server
reachable — a bundle to create it by hand: the GGUF(s), the Modelfile, SHA256SUMS and the command."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path
from typing import Any

from modelops.fsutil import link_or_copy
from modelops.hashing import hash_file
from modelops.recipe.env import expand
from modelops.steps.runtime import Spec, main


def _host(spec: Spec) -> str | None:
    host = expand(spec.params.host) or os.environ.get("OLLAMA_HOST")
    if not host:
        return None
    return host if "://" in host else f"http://{host}"


def _reachable(host: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{host}/api/version", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _bundle(spec: Spec, fields: dict[str, Any]) -> Path:
    bundle = spec.out / "bundle"
    bundle.mkdir()
    files = [spec.inputs["gguf"]] + ([spec.inputs["adapter.gguf"]] if "adapter.gguf" in spec.inputs else [])
    for source in files:
        link_or_copy(source, bundle / source.name)
    shutil.copy2(spec.inputs["Modelfile"], bundle / "Modelfile")
    sums = [f"{hash_file(bundle / f.name)}  {f.name}" for f in files]
    (bundle / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    (bundle / "create.sh").write_text(f"#!/bin/sh\nset -e\ncd \"$(dirname \"$0\")\"\nsha256sum -c SHA256SUMS\n"
                                      f"ollama create {shlex.quote(fields['name'])} -f Modelfile\n", encoding="utf-8")
    (bundle / "create.sh").chmod(0o755)
    return bundle


def _create(host: str, fields: dict[str, Any], spec: Spec) -> dict[str, Any]:
    from ollama import Client

    client = Client(host=host)
    files = {spec.inputs["gguf"].name: client.create_blob(spec.inputs["gguf"])}
    adapters = {spec.inputs["adapter.gguf"].name: client.create_blob(spec.inputs["adapter.gguf"])} \
        if "adapter.gguf" in spec.inputs else None
    parameters = dict(fields["parameters"], stop=fields["stops"])
    client.create(model=fields["name"], files=files, adapters=adapters, template=fields["template"],
                  system=fields["system"], parameters=parameters, license=fields["license"],
                  messages=fields["messages"] or None, stream=False)
    reply = client.chat(model=fields["name"], messages=[{"role": "user", "content": "你好"}],
                        options={"num_predict": 16, "temperature": 0})
    return {"created": True, "host": host, "files": files, "smoke_reply": reply.message.content}


def run(spec: Spec) -> None:
    fields = json.loads(spec.inputs["modelfile.json"].read_text(encoding="utf-8"))
    _bundle(spec, fields)
    bundle = spec.final_out / "bundle"
    host = _host(spec)
    if host and _reachable(host):
        result = _create(host, fields, spec)
        print(f"created {fields['name']} on {host}; it answered: {result['smoke_reply']!r}")
    elif spec.params.require:
        raise SystemExit(f"no Ollama server at {host or 'OLLAMA_HOST (unset)'} and deploy.ollama.require is true")
    else:
        command = f"cd {shlex.quote(str(bundle))} && ollama create {shlex.quote(fields['name'])} -f Modelfile"
        result = {"created": False, "host": host, "command": command}
        print(f"no Ollama server {'at ' + host if host else '(OLLAMA_HOST is unset)'}: wrote a bundle instead.\n"
              f"create the model with: {result['command']}   (or run {bundle}/create.sh)")
    spec.write_json("create.json", result | {"name": fields["name"], "bundle": str(bundle)})


if __name__ == "__main__":
    main(run)
