"""Step `gguf_lora_convert`: a LoRA adapter to a GGUF adapter (Ollama's ADAPTER, llama.cpp's --lora),
converted against its base's config with llama.cpp's `convert_lora_to_gguf.py`."""

from __future__ import annotations

from modelops.deploy.converter import run_converter
from modelops.deploy.gguf_facts import gguf_facts
from modelops.steps.runtime import Spec, main


def run(spec: Spec) -> None:
    target = spec.out / "adapter.gguf"
    run_converter("convert_lora_to_gguf.py", [str(spec.inputs["adapter"]), "--base", str(spec.inputs["base"]),
                                              "--outfile", str(target), "--outtype", spec.params.outtype])
    facts = gguf_facts(target)
    spec.write_json("metrics.json", facts)
    print(f"{target.name}: {facts['mib']} MiB, {facts['parameters']:,} adapter parameters")


if __name__ == "__main__":
    main(run)
