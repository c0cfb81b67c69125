"""Step `gguf_benchmark`: the recipe's lm-evaluation-harness tasks on each GGUF (the converted model and each
quantisation), run by llama.cpp as `serve` runs it (modelops/deploy/gguf_harness.py), so that a user sees what
quantisation cost on a real benchmark beside the `benchmark` step's score of the trained model.
metrics.json holds `<gguf>.<task>.<metric>` (`q4_k_m.my_quiz.acc`); results.json the harness's own results."""

from __future__ import annotations

from modelops.deploy.gguf_facts import model_folder
from modelops.steps.lm_benchmark import numbers, score, task_folders
from modelops.steps.runtime import Spec, main


def run(spec: Spec) -> None:
    from modelops.deploy.gguf_harness import GgufLM
    from modelops.deploy.llama_runtime import configure

    print(f"llama.cpp weight repack: {configure().reason}")
    p, adapter = spec.params, spec.inputs.get("adapter.gguf")
    ggufs = {name: path for name, path in spec.inputs.items() if path.suffix == ".gguf" and name != "adapter.gguf"}
    raw, metrics, rows = {}, {}, []
    for name, path in ggufs.items():
        model = GgufLM(path, model_folder(spec.inputs), p.n_ctx, lora=adapter)
        raw[name] = score(model, p.tasks, task_folders(spec.inputs), p)
        model.llm.close()
        metrics[name] = numbers(raw[name])
        scores = {f"{task}.{metric}": value for task, values in metrics[name].items()
                  for metric, value in values.items()}
        rows.append([name, *(round(value, 5) for value in scores.values())])
        print(f"{name}: " + ", ".join(f"{key} {value:.4g}" for key, value in scores.items()))
    spec.write_json("results.json", raw)
    spec.write_json("metrics.json", metrics)
    spec.write_json("tables.json", {"Benchmark of each GGUF (llama.cpp)": [["gguf", *scores], *rows]})


if __name__ == "__main__":
    main(run)
