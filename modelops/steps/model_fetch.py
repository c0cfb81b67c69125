"""Step `model_fetch`: a base model from the Hugging Face hub (honouring HF_ENDPOINT mirrors, HF_HOME and
HF_HUB_OFFLINE) or from ModelScope (`modelscope://org/name`, into MODELSCOPE_CACHE). Files stay in the
library's cache; the step's `model/` folder links to them, so a 14 GB model is stored once."""

from __future__ import annotations

import sys
from pathlib import Path

from modelops.steps.runtime import Spec, main

WANTED = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.py", "*.tiktoken"]   # no pickled *.bin


def _hub(repo: str, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo, revision=revision, allow_patterns=WANTED))
    except LocalEntryNotFoundError as exc:
        raise SystemExit(f"cannot fetch {repo}: not in the cache ({exc.__class__.__name__}) and the hub is "
                         "unreachable or HF_HUB_OFFLINE is set; set HF_ENDPOINT to a mirror, or point "
                         "`model.base` at a local folder") from None


def _modelscope(repo: str, revision: str | None) -> Path:
    try:
        from modelscope import snapshot_download
    except ImportError:
        raise SystemExit("ModelScope models need the `modelscope` package: pip install modelscope") from None
    return Path(snapshot_download(repo, revision=revision or "master", allow_patterns=WANTED))


def run(spec: Spec) -> None:
    p = spec.params
    source, repo = p.source, p.id
    if source == "hub":
        snapshot = _hub(repo, p.revision)
    elif source == "modelscope":
        snapshot = _modelscope(repo.removeprefix("modelscope://"), p.revision)
    else:
        raise SystemExit(f"{repo}: fetching `{source}` models is not supported; download it and use a local folder")
    if not any(snapshot.glob("*.safetensors")):
        raise SystemExit(f"{repo} has no safetensors weights; modelops does not load pickled checkpoints")
    folder = spec.out / "model"
    for file in sorted(f for f in snapshot.rglob("*") if f.is_file()):
        target = folder / file.relative_to(snapshot)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(file.resolve())
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    spec.write_json("metrics.json", {"files": len(list(folder.rglob("*"))), "bytes": size})
    print(f"{repo} ({source}) from {snapshot}: {size / 1e6:.1f} MB", file=sys.stdout)


if __name__ == "__main__":
    main(run)
