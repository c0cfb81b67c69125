"""The `benchmark` section: EleutherAI's lm-evaluation-harness on the trained model and the one it started from."""

from __future__ import annotations

from pydantic import Field

from modelops.recipe.common import Section


class Benchmark(Section):
    """Benchmarks scored by lm-evaluation-harness (`pip install 'modelops[benchmark]'`) after training: the
    step's metrics are `<task>.<metric>` for the trained model and `<task>.<metric>_base` for the model
    training started from, for gates such as `benchmark.my_quiz.acc >= benchmark.my_quiz.acc_base + 0.02`.
    With a GGUF deploy, `benchmark-gguf` scores each GGUF with llama.cpp: `<gguf>.<task>.<metric>`
    (`benchmark-gguf.q4_k_m.my_quiz.acc >= benchmark.my_quiz.acc - 0.02`)."""

    tasks: list[str] = Field(min_length=1, description=(
        "Harness task names (`hellaswag`, `arc_easy`, `cmmlu`: their data comes from the Hugging Face Hub) or "
        "folders of your own tasks (the harness's task YAML with local data files beside it), relative to the "
        "recipe."))
    limit: int | None = Field(None, gt=0, description="Examples per task; all when unset.")
    num_fewshot: int = Field(0, ge=0, description="Examples shown before each question.")
    chat_template: bool = Field(False, description=(
        "Ask each question through the model's chat template, as a chat model is asked (the harness's "
        "`--apply_chat_template`); off, the task's text goes to the model as it is."))
    base: bool = Field(True, description="Score the model training started from as well (`<metric>_base`).")
