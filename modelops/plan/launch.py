"""How a training step is launched: the rendered accelerate (and DeepSpeed) configs and commands."""

from __future__ import annotations

from modelops.plan.hardware import ResolvedHardware
from modelops.plan.training import TrainingSetup
from modelops.templates import render

_DISTRIBUTED_TYPE = {"single": "NO", "ddp": "MULTI_GPU", "fsdp": "FSDP",
                     "deepspeed_zero2": "DEEPSPEED", "deepspeed_zero3": "DEEPSPEED"}
MAIN_IP_PLACEHOLDER = "MAIN_NODE_IP"


def launch_files(step_id: str, directory: str, setup: TrainingSetup, hw: ResolvedHardware) -> dict[str, str]:
    """Config files the launch needs, by name inside the step directory.

    On CPU, several processes use accelerate's MULTI_GPU type with `use_cpu`: that starts
    gloo workers, whereas MULTI_CPU expects an MPI launcher."""
    zero_stage = {"deepspeed_zero2": 2, "deepspeed_zero3": 3}.get(setup.distributed, 0)
    files = {}
    if zero_stage:
        files["deepspeed.json"] = render(
            "deepspeed/zero.json.j2", zero_stage=zero_stage, precision=setup.precision,
            gradient_accumulation=setup.gradient_accumulation, per_device_batch=setup.per_device_batch)
    files["accelerate.yaml"] = render(
        "accelerate/config.yaml.j2", step_id=step_id, distributed_type=_DISTRIBUTED_TYPE[setup.distributed],
        mixed_precision="no" if setup.precision == "fp32" else setup.precision,
        num_machines=hw.nodes, num_processes=setup.devices, use_cpu=not hw.cuda,
        main_process_ip=hw.main_process_ip or MAIN_IP_PLACEHOLDER, main_process_port=hw.main_process_port,
        gradient_checkpointing=setup.gradient_checkpointing, zero_stage=zero_stage,
        deepspeed_config_file=f"{directory}/deepspeed.json")
    return files


def launch_commands(directory: str, module: str, hw: ResolvedHardware) -> tuple[list[str], list[list[str]]]:
    """The command (node 0) and, for multi-node runs, the command for every node."""
    base = ["accelerate", "launch", "--config_file", f"{directory}/accelerate.yaml"]
    tail = ["-m", module, f"{directory}/step.json"]
    if hw.nodes == 1:
        return base + tail, []
    nodes = [base + ["--machine_rank", str(rank)] + tail for rank in range(hw.nodes)]
    return nodes[0], nodes
