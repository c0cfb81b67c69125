"""`modelops plan`: steps, hardware resolution, semantic checks with positions, stable output."""

from __future__ import annotations

import json

import pytest
from conftest import RECIPES, REGRESSION, ROOT, SFT, write

from modelops.plan.planner import plan_recipe
from modelops.problems import RecipeError


def problems(path):
    with pytest.raises(RecipeError) as info:
        plan_recipe(path)
    return info.value.problems


def only_error(path):
    errors = [p for p in problems(path) if p.severity == "error"]
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_checked_in_recipe_plans_in_every_format(run_cli, recipe, tmp_path):
    for fmt in ("text", "json", "markdown"):
        code, out, err = run_cli("plan", recipe, "--format", fmt, cwd=ROOT)
        assert code == 0, err
        assert "fingerprint" in out or fmt == "text"
    code, _, _ = run_cli("plan", recipe, "--out", tmp_path / "plan.json", cwd=ROOT)
    assert code == 0 and json.loads((tmp_path / "plan.json").read_text())["recipes"]


def test_json_plan_is_byte_identical(run_cli):
    recipe = ROOT / "recipes" / "qwen2.5-0.5b-dpo.yaml"
    first = run_cli("plan", recipe, "--format", "json", cwd=ROOT)[1]
    second = run_cli("plan", recipe, "--format", "json", cwd=ROOT)[1]
    assert first == second and json.loads(first)


def test_sft_plan_shape(workspace):
    plan = plan_recipe(
        write(
            workspace,
            "r.yaml",
            SFT.replace("hardware: cpu", "hardware: a10x2\ndeploy:\n  target: ollama\n  quantize: [q4_k_m]"),
        )
    )
    [recipe] = plan.recipes
    assert [s.short_id for s in recipe.steps] == [
        "data",
        "base",
        "train",
        "evaluate",
        "merge",
        "gguf",
        "quantize-q4_k_m",
        "parity",
        "modelfile",
        "ollama",
        "smoke",
    ]
    train = recipe.steps[2]
    assert train.command[:4] == ["accelerate", "launch", "--config_file", f"{train.directory}/accelerate.yaml"]
    assert 'distributed_type: "MULTI_GPU"' in train.files["accelerate.yaml"]
    assert "num_processes: 2" in train.files["accelerate.yaml"]
    t = recipe.training
    assert t["precision"] == "bf16" and t["distributed"] == "ddp"
    assert t["per_device_batch"] * t["gradient_accumulation"] * t["devices"] == 8
    assert 0 < t["memory_gib"]["total"] < 22
    # Fingerprints chain: every upstream fingerprint appears in its consumer's inputs.
    by_id = {s.id: s for s in recipe.steps}
    for step in recipe.steps:
        for item in step.inputs:
            if item.step:
                assert item.digest.startswith(by_id[item.step].fingerprint)


def test_cpu_processes_use_gloo_through_multi_gpu_with_use_cpu(workspace):
    text = SFT.replace("hardware: cpu", "hardware: {gpu: cpu, processes: 2}")
    train = plan_recipe(write(workspace, "r.yaml", text)).recipes[0].steps[2]
    assert (
        'distributed_type: "MULTI_GPU"' in train.files["accelerate.yaml"]
        and "use_cpu: true" in train.files["accelerate.yaml"]
    )


def test_multi_node_prints_a_command_per_node(workspace):
    text = SFT.replace(
        "hardware: cpu", "hardware: {gpu: h100-80g, gpus: 8, nodes: 2, main_process_ip: 10.0.0.1}"
    ).replace("batch_size: 8", "batch_size: 64")
    train = plan_recipe(write(workspace, "r.yaml", text)).recipes[0].steps[2]
    assert [c[c.index("--machine_rank") + 1] for c in train.node_commands] == ["0", "1"]
    assert (
        "num_machines: 2" in train.files["accelerate.yaml"]
        and "main_process_ip: 10.0.0.1" in train.files["accelerate.yaml"]
    )


def test_large_model_is_sharded_and_pinned_deepspeed_renders_its_config(workspace):
    text = (
        SFT.replace("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-14B-Instruct")
        .replace("hardware: cpu", "hardware: h100x8")
        .replace("kind: sft", "kind: sft\n  adapter: {type: none}\n  max_length: 512")
    )
    t = plan_recipe(write(workspace, "r.yaml", text)).recipes[0].training
    assert t["distributed"] == "fsdp" and "sharded" in " ".join(t["reasons"])
    pinned = text.replace("adapter: {type: none}", "adapter: {type: none}\n  distributed: deepspeed_zero3")
    train = plan_recipe(write(workspace, "r2.yaml", pinned)).recipes[0].steps[2]
    assert (
        '"stage": 3' in train.files["deepspeed.json"]
        and 'distributed_type: "DEEPSPEED"' in train.files["accelerate.yaml"]
    )


def test_does_not_fit_is_an_error_at_hardware(workspace):
    text = (
        SFT.replace("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-72B-Instruct")
        .replace("hardware: cpu", "hardware: t4x1")
        .replace("kind: sft", "kind: sft\n  adapter: {type: none}\n  precision: fp16")
    )
    error = only_error(write(workspace, "r.yaml", text))
    assert error.key == "hardware" and "exceeds" in error.message and error.line == 12
    assert "qlora" in error.hint and "fsdp" not in error.hint  # one T4: nothing to shard over
    on_cpu = only_error(
        write(workspace, "r.yaml", text.replace("hardware: t4x1", "hardware: cpu").replace("  precision: fp16\n", ""))
    )
    assert "qlora" not in on_cpu.hint and "fsdp" not in on_cpu.hint and "memory_gb" in on_cpu.hint


def test_regression_plan(workspace):
    plan = plan_recipe(write(workspace, "r.yaml", REGRESSION))
    steps = plan.recipes[0].steps
    assert [s.kind for s in steps] == ["table_features", "lightgbm_fit"]
    assert steps[0].params["lags"] == [1, 2, 3] and steps[0].inputs[0].path == "table.csv"


def test_editing_data_changes_fingerprints(workspace):
    path = write(workspace, "r.yaml", REGRESSION)
    before = [s.fingerprint for s in plan_recipe(path).steps]
    with (workspace / "table.csv").open("a") as handle:
        handle.write("u3,m1,2025-03-01 00:00 - 01:00,1,1\n")
    after = [s.fingerprint for s in plan_recipe(path).steps]
    assert before[0] != after[0] and before[1] != after[1]


def test_a_data_file_spelled_another_way_plans_the_same_steps(workspace):
    """`table.csv`, `./table.csv`, a detour through another folder and the absolute path are one file: the
    steps keep their fingerprints (the file's content is what counts)."""
    (workspace / "other").mkdir()
    spellings = ["table.csv", "./table.csv", "other/../table.csv", str(workspace / "table.csv")]
    fingerprints = {
        spelled: [s.fingerprint for s in plan_recipe(write(workspace, "r.yaml", REGRESSION.replace(
            "path: table.csv", f"path: {spelled}"))).steps]
        for spelled in spellings
    }
    assert len({tuple(f) for f in fingerprints.values()}) == 1, fingerprints
    (workspace / "copy.csv").write_bytes((workspace / "table.csv").read_bytes())
    moved = [s.fingerprint for s in plan_recipe(write(workspace, "r.yaml", REGRESSION.replace(
        "path: table.csv", "path: copy.csv"))).steps]
    assert moved != fingerprints["table.csv"]     # another name is another input, as the plan and report show it


@pytest.mark.parametrize(
    "edit, key, line, words",
    [
        (("features: [clicks]", "features: [clickz]"), "task.features[0]", 9, "did you mean `clicks`"),
        (("target: activations", "target: actvations"), "task.target", 8, "not in table.csv"),
        (("window: 3", "window: 60"), "task.window", 11, "the data has 48"),
        (("validation: {folds: 2}", "validation: {folds: 30}"), "task.validation.folds", 13, "leave no training rows"),
        (("validation: {folds: 2}", "validation: {folds: 22}"), "task.validation.folds", 13, "{folds: 21}`"),
        (("path: table.csv", "path: missing.csv"), "data.train.path", 4, "data file not found"),
        (('format: "%Y', 'format: "%Y'), None, None, None),
    ],
)
def test_regression_semantic_errors(workspace, edit, key, line, words):
    path = write(workspace, "r.yaml", REGRESSION.replace(*edit))
    if key is None:
        assert plan_recipe(path).recipes
        return
    error = only_error(path)
    assert (error.key, error.line) == (key, line) and words in error.message + error.hint


@pytest.mark.parametrize("hardware, precision", [("cpu", "fp32"), ("t4x1", "fp16"), ("l4x1", "bf16")])
def test_precision_defaults_follow_hardware(workspace, hardware, precision):
    plan = plan_recipe(write(workspace, "r.yaml", SFT.replace("hardware: cpu", f"hardware: {hardware}")))
    assert plan.recipes[0].training["precision"] == precision


@pytest.mark.parametrize(
    "text_edits, key, words",
    [
        (
            [("hardware: cpu", "hardware: t4x1"), ("batch_size: 8", "batch_size: 8\n  precision: bf16")],
            "task.precision",
            "does not support bf16",
        ),
        ([("batch_size: 8", "batch_size: 8\n  adapter: {type: qlora}")], "task.adapter.type", "QLoRA needs a CUDA GPU"),
        ([("hardware: cpu", "hardware: a10x3")], "task.batch_size", "does not divide over 3 devices"),
        ([("hardware: cpu", "hardware: a1000x2")], "hardware", "unknown hardware"),
        ([("hardware: cpu", "hardware: a100x2")], "hardware", "ambiguous"),
        (
            [
                (
                    "hardware: cpu",
                    "hardware: cpu\ndeploy: {target: ollama, quantize: [q4_k_m], "
                    "ollama: {parameters: {temprature: 0.1}}}",
                )
            ],
            "deploy.ollama.parameters.temprature",
            "did you mean `temperature`",
        ),
        (
            [("hardware: cpu", "hardware: cpu\ndeploy: {target: ollama, ollama: {parameters: {num_ctx: lots}}}")],
            "deploy.ollama.parameters.num_ctx",
            "must be int",
        ),
        (
            [("hardware: cpu", 'hardware: cpu\ndeploy:\n  target: ollama\n  ollama: {system: \'say """hi"""\'}')],
            "deploy.ollama.system",
            '"""',
        ),
        ([("hardware: cpu", "hardware: cpu\ndeploy: {target: api}")], "deploy.target", "serves regression models"),
        (
            [("hardware: cpu", "hardware: cpu\ndeploy: {target: ollama, quantize: [q4_k_x]}")],
            "deploy.quantize[0]",
            "q4_k_m",
        ),
        (
            [
                (
                    "hardware: cpu",
                    "hardware: cpu\ndeploy: {target: ollama, quantize: [q8_0], ollama: {quantization: q4_0}}",
                )
            ],
            "deploy.ollama.quantization",
            "is not produced",
        ),
        ([("format: messages", "format: preference")], "data.train.format", "cannot train on `preference`"),
        ([("base: Qwen/Qwen2.5-0.5B-Instruct", "base: ./no-such-model")], "model.base", "model folder not found"),
        ([("batch_size: 8", "batch_size: 8\n  distributed: fsdp")], "task.distributed", "needs more than one device"),
    ],
)
def test_language_model_semantic_errors(workspace, text_edits, key, words):
    text = SFT
    for old, new in text_edits:
        text = text.replace(old, new)
    error = only_error(write(workspace, "r.yaml", text))
    assert error.key == key and words in error.message + error.hint


def test_warnings_for_remote_code_and_unknown_models(workspace):
    text = SFT.replace("base: Qwen/Qwen2.5-0.5B-Instruct", "base: someone/unknown-model\n  trust_remote_code: true")
    plan = plan_recipe(write(workspace, "r.yaml", text))
    keys = {w.key for w in plan.warnings}
    assert keys == {"model.trust_remote_code", "model.base"}
    assert plan.recipes[0].training.get("memory_gib") is None


def _tiny_model_folder(model, **config):
    """A local model folder with only the config.json a plan reads."""
    model.mkdir()
    shape = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
             "vocab_size": 800}
    (model / "config.json").write_text(json.dumps(shape | config))
    return model


def test_local_model_folder_is_sized_from_config_json(workspace):
    model = _tiny_model_folder(workspace / "tiny", tie_word_embeddings=True)
    (model / "chat_template.jinja").write_text("{{ messages }}")
    plan = plan_recipe(write(workspace, "r.yaml", SFT.replace("Qwen/Qwen2.5-0.5B-Instruct", "tiny")))
    recipe = plan.recipes[0]
    assert recipe.model["params"] == 64 * 800 + 2 * (4 * 64 * 64 + 3 * 64 * 128 + 2 * 64) + 64
    assert recipe.steps[0].kind == "lm_data" and recipe.steps[1].inputs[-1].path == "tiny"
    (model / "chat_template.jinja").unlink()
    error = only_error(workspace / "r.yaml")
    assert error.key == "model.base" and "no chat template" in error.message


def test_from_recipe_plans_upstream_first(workspace):
    write(workspace, "sft.yaml", SFT)
    dpo = (
        SFT.replace("name: demo", "name: demo-dpo")
        .replace("sft.jsonl, format: messages", "pref.jsonl, format: preference")
        .replace("base: Qwen/Qwen2.5-0.5B-Instruct", "base: {from: sft.yaml}")
        .replace("kind: sft", "kind: dpo")
    )
    plan = plan_recipe(write(workspace, "dpo.yaml", dpo))
    assert [r.name for r in plan.recipes] == ["demo", "demo-dpo"]
    train = plan.recipes[1].steps[1]
    assert any(i.step == "demo/merge" for i in train.inputs)
    assert plan.recipes[1].model["params"] == plan.recipes[0].model["params"]


def test_from_recipe_cycle_and_missing(workspace):
    a = SFT.replace("base: Qwen/Qwen2.5-0.5B-Instruct", "base: {from: b.yaml}")
    write(workspace, "a.yaml", a)
    write(workspace, "b.yaml", a.replace("name: demo", "name: other").replace("b.yaml", "a.yaml"))
    error = only_error(workspace / "a.yaml")
    assert error.key == "model.base.from" and "cycle" in error.message
    write(workspace, "c.yaml", a.replace("b.yaml", "nope.yaml"))
    assert "recipe not found" in only_error(workspace / "c.yaml").message


def test_upstream_errors_are_reported_in_the_upstream_file(workspace):
    write(workspace, "sft.yaml", SFT.replace("kind: sft", "kind: sft\n  epochz: 1"))
    path = write(
        workspace,
        "dpo.yaml",
        SFT.replace("name: demo", "name: d2").replace("base: Qwen/Qwen2.5-0.5B-Instruct", "base: {from: sft.yaml}"),
    )
    error = only_error(path)
    assert error.file.endswith("sft.yaml") and error.key == "task.epochz"


def test_remote_data_is_noted(workspace):
    plan = plan_recipe(write(workspace, "r.yaml", SFT.replace("path: sft.jsonl", "path: someorg/some-dataset")))
    assert any("remote" in note for note in plan.recipes[0].notes)


def test_from_a_regression_recipe_is_refused(workspace):
    write(workspace, "forecast.yaml", REGRESSION)
    path = write(workspace, "r.yaml", SFT.replace("base: Qwen/Qwen2.5-0.5B-Instruct", "base: {from: forecast.yaml}"))
    error = only_error(path)
    assert error.key == "model.base.from" and "regression" in error.message


def test_an_ollama_deploy_needs_a_chat_template(workspace):
    _tiny_model_folder(workspace / "bare")
    text = PRETRAIN_BARE.replace("BASE", "bare")
    error = only_error(write(workspace, "r.yaml", text + "deploy: {target: ollama}\n"))
    assert (error.key, error.line) == ("model.base", text.splitlines().index("  base: bare") + 1)
    assert "no chat template" in error.message and "deploy.ollama.template" in error.hint
    assert plan_recipe(
        write(workspace, "ok.yaml", text + "deploy: {target: ollama, ollama: {template: '{{ .Prompt }}'}}\n")
    )


PRETRAIN_BARE = """version: 1
name: bare
data:
  train: {path: corpus.txt, format: text}
model:
  base: BASE
task:
  kind: pretrain
hardware: cpu
"""


def test_training_plans_estimate_steps_and_wall_time(workspace, run_cli):
    import json as _json

    rows = [
        _json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]})
        for i in range(100)
    ]
    (workspace / "sft.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    text = SFT.replace("format: messages}", "format: messages}\n  validation: {fraction: 0.2}").replace(
        "kind: sft", "kind: sft\n  epochs: 3\n  packing: false"
    )
    training = plan_recipe(write(workspace, "r.yaml", text)).recipes[-1].training
    assert training["steps_estimate"] == 30 and "3 epoch(s) × 80 rows ÷ batch 8" == training["steps_basis"]
    assert training["wall_seconds_estimate"] > 30 * training["seconds_per_step_estimate"]
    code, out, _ = run_cli("plan", workspace / "r.yaml")
    assert "steps: 30 (3 epoch(s) × 80 rows ÷ batch 8), wall time ≈" in out
    capped = plan_recipe(write(workspace, "r.yaml", text.replace("epochs: 3", "epochs: 3\n  max_steps: 7")))
    assert capped.recipes[-1].training["steps_estimate"] == 7


def test_regression_plans_count_fits_and_estimate_their_time(workspace):
    fit = next(s for s in plan_recipe(write(workspace, "r.yaml", REGRESSION)).steps if s.kind == "lightgbm_fit")
    # 1 parameter set × 2 steps ahead × 2 folds + 2 refits + the 4 other transforms probed at the nearest and
    # farthest step on each fold (the chosen one's probes are its evaluations)
    assert fit.summary["fits"] == "22" and fit.summary["time on one CPU"].startswith("≲ ")


def test_benchmark_tasks_are_checked_where_they_are_written(workspace):
    (workspace / "empty-tasks").mkdir()
    text = SFT + "benchmark: {tasks: [arc_easy, empty-tasks, ./missing-quiz]}\n"
    with pytest.raises(RecipeError) as caught:
        plan_recipe(write(workspace, "r.yaml", text))
    shown = {(p.key, p.message) for p in caught.value.problems}
    assert ("benchmark.tasks[1]", "the folder empty-tasks holds no task YAML") in shown
    assert ("benchmark.tasks[2]", "no task folder ./missing-quiz") in shown
    with pytest.raises(RecipeError) as caught:
        plan_recipe(write(workspace, "r.yaml", REGRESSION + "benchmark: {tasks: [arc_easy]}\n"))
    assert any(p.key == "benchmark" and "not forecasts" in p.message for p in caught.value.problems)
    (workspace / "quiz").mkdir()
    (workspace / "quiz" / "quiz.yaml").write_text("task: quiz\n")
    plan = plan_recipe(write(workspace, "r.yaml", SFT + "benchmark: {tasks: [arc_easy, quiz]}\n"))
    [step] = [s for s in plan.steps if s.kind == "lm_benchmark"]
    assert step.params["tasks"] == ["arc_easy"] and any(i.name == "tasks/quiz" for i in step.inputs)
    assert any(d["key"] == "benchmark.tasks" and "arc_easy" in d["what"] for d in plan.recipes[0].network)
