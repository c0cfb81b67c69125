"""Step `gguf_quantize`: one quantisation type through llama.cpp's own quantiser (the bindings'
`llama_model_quantize`), reporting file size, bits per weight and any k-quant fallbacks."""

from __future__ import annotations

import ctypes

from modelops.deploy.gguf_facts import gguf_facts
from modelops.steps.runtime import Spec, main


def run(spec: Spec) -> None:
    import llama_cpp

    quant = spec.params.type
    [source] = spec.inputs.values()
    target = spec.out / f"model-{quant}.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant.upper()}")
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if code != 0 or not target.exists():
        raise SystemExit(f"llama.cpp could not quantise {source.name} to {quant} (code {code})")
    facts = gguf_facts(target, quant) | {"source_mib": round(source.stat().st_size / 2**20, 3)}
    spec.write_json("metrics.json", facts)
    print(
        f"{target.name}: {facts['mib']} MiB ({facts['source_mib']} MiB before), {facts['bits_per_weight']} bits/weight"
    )
    if "fallback" in facts:
        fallback = facts["fallback"]
        print(f"{fallback['tensors']} tensors fell back to {', '.join(fallback['types'])}: {fallback['reason']}")


if __name__ == "__main__":
    main(run)
