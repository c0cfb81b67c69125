"""Every place off this machine that a run will contact, so that a reviewer sees where data would go."""

from __future__ import annotations

from pathlib import Path

from modelops.plan.checks import benchmark_folders, data_locations
from modelops.plan.sources import Location, locate
from modelops.recipe.loader import LoadedRecipe
from modelops.recipe.yaml_source import dotted

SERVICES = {"hub": "Hugging Face Hub (https://huggingface.co, or HF_ENDPOINT where set)",
            "modelscope": "ModelScope (https://www.modelscope.cn)"}


def _remote(location: Location) -> str:
    return location.raw if location.kind == "url" else SERVICES[location.kind]


def destinations(loaded: LoadedRecipe) -> list[dict[str, str]]:
    """Each destination: the recipe key that sets it, where (as the recipe wrote it) and what is sent or fetched."""
    recipe, found = loaded.recipe, []
    for key, location in data_locations(loaded).items():
        if not location.is_local:
            found.append({"key": dotted(key), "where": _remote(location), "what": f"downloads {location.raw}"})
    base = recipe.model.base if recipe.model else None
    if isinstance(base, str) and not (location := locate(base, loaded.root)).is_local:
        found.append({"key": "model.base", "where": _remote(location), "what": f"downloads {base}"})
    hardware = recipe.hardware
    if not isinstance(hardware, str) and hardware.scheduler:
        found.append({"key": "hardware.scheduler", "where": f"Dask scheduler {hardware.scheduler}",
                      "what": "receives the training features and fits the models"})
    deploy = recipe.deploy
    if deploy is not None and deploy.target == "ollama":
        host = deploy.ollama.host
        found.append({"key": "deploy.ollama.host", "where": f"Ollama server {host}" if host else
                      "the Ollama server in OLLAMA_HOST, where set (else none: a bundle is written)",
                      "what": "receives the GGUF weights and Modelfile"})
    if recipe.tracking.mlflow is not None and not recipe.tracking.mlflow.uri.startswith(("sqlite:", "file:")):
        found.append({"key": "tracking.mlflow.uri", "where": f"MLflow server {recipe.tracking.mlflow.uri}",
                      "what": "receives the training and fit steps' parameters, metrics, plots and the recipe file"})
    if recipe.tracking.wandb is not None and recipe.tracking.wandb.mode == "online":
        found.append({"key": "tracking.wandb.mode", "where": "Weights & Biases (https://api.wandb.ai, or "
                      "WANDB_BASE_URL where set)", "what": "receives the training and fit steps' parameters and "
                      "metrics"})
    if recipe.benchmark is not None:
        named = [t for t in recipe.benchmark.tasks if Path(t).name not in benchmark_folders(loaded)]
        if named:
            found.append({"key": "benchmark.tasks", "where": SERVICES["hub"],
                          "what": f"downloads the data of the harness tasks {', '.join(named)}"})
    cache = recipe.cache
    if cache is not None and "://" in cache.url and not cache.url.startswith("file://"):
        found.append({"key": "cache.url", "where": cache.url, "what": (
            "the shared cache: " + " and ".join(["receives the outputs of every step apply runs"] * cache.push
                                                 + ["serves finished steps instead of running them"] * cache.pull))})
    return found
