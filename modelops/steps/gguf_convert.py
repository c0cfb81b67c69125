"""Step `gguf_convert`: the Hugging Face model to GGUF with llama.cpp's own converter (matched to the
installed runtime), with the recipe's metadata; the chat template travels into the GGUF."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from modelops.deploy.converter import run_converter
from modelops.deploy.gguf_facts import gguf_facts, model_folder, servable_template
from modelops.steps.runtime import Spec, main


def servable_copy(model: Path, into: Path) -> Path:
    """The model folder as links, with the chat template as a GGUF carries it (`servable_template`)."""
    into.mkdir()
    for item in model.iterdir():
        (into / item.name).symlink_to(item.resolve())
    template = model / "chat_template.jinja"
    if template.exists():
        (into / template.name).unlink()
        (into / template.name).write_text(
            servable_template(template.read_text(encoding="utf-8")), encoding="utf-8"
        )
    return into


def run(spec: Spec) -> None:
    outtype = spec.params.outtype
    metadata = {f"general.{key}": value for key, value in spec.params.metadata.model_dump().items() if value}
    target = spec.out / f"model-{outtype}.gguf"
    with tempfile.TemporaryDirectory() as scratch:
        override = Path(scratch) / "metadata.json"
        override.write_text(json.dumps(metadata), encoding="utf-8")
        model = servable_copy(model_folder(spec.inputs), Path(scratch) / "model")
        run_converter(
            "convert_hf_to_gguf.py",
            [str(model), "--outfile", str(target), "--outtype", outtype, "--metadata", str(override)],
        )
    facts = gguf_facts(target)
    spec.write_json("metrics.json", facts)
    print(
        f"{target.name}: {facts['mib']} MiB, {facts['parameters']:,} parameters, {facts['bits_per_weight']} bits/weight"
    )


if __name__ == "__main__":
    main(run)
