"""Step `hf_model_card`: the merged (or fully trained) model as a Hugging Face folder with a model card —
the recipe, data counts, training and evaluation metrics — for the hub, vLLM or TGI."""

from __future__ import annotations

import json
import shutil
from typing import Any

from modelops.fsutil import link_or_copy
from modelops.steps.runtime import Spec, main
from modelops.templates import render


def _scalars(path) -> dict[str, Any]:
    values = json.loads(path.read_text(encoding="utf-8"))
    return {
        k: (round(v, 4) if isinstance(v, float) else v) for k, v in values.items() if isinstance(v, (int, float, str))
    }


def run(spec: Spec) -> None:
    folder = spec.out / "model"
    folder.mkdir()
    for item in spec.inputs["model"].iterdir():
        target = folder / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            link_or_copy(item, target)
    card = render(
        "hf/README.md.j2",
        name=spec.params.name,
        description=spec.params.description,
        task=spec.params.task,
        base=spec.params.base,
        folder="model",
        data=_scalars(spec.inputs["stats.json"]),
        training=_scalars(spec.inputs["training.json"]),
        evaluation=_scalars(spec.inputs["evaluation.json"]),
        recipe=spec.inputs["recipe.yaml"].read_text(encoding="utf-8").rstrip(),
    )
    (folder / "README.md").write_text(card, encoding="utf-8")
    print(f"model card and {sum(1 for _ in folder.iterdir()) - 1} model files in {spec.final_out / 'model'}")


if __name__ == "__main__":
    main(run)
