"""The plan: recipes expanded into ordered, fingerprinted steps."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from modelops.problems import Problem


@dataclass
class StepInput:
    """A file or folder the step reads (`path`, hashed) or an upstream step's output (`step`)."""

    name: str
    path: str | None = None
    step: str | None = None
    output: str | None = None
    digest: str = ""

    @property
    def label(self) -> str:
        return f"{self.step}:{self.output}" if self.step else str(self.path)


@dataclass
class Step:
    """One unit of work: a runner kind with parameters, inputs, outputs and the command that runs it."""

    id: str                      # `<recipe>/<step>`, unique in the plan
    kind: str                    # runner module under modelops.steps
    title: str
    params: dict[str, Any]       # the plain JSON of the kind's typed parameters (step_kinds.py)
    inputs: list[StepInput]
    outputs: list[str]           # names inside the step's directory
    fingerprint: str = ""
    directory: str = ""
    command: list[str] = field(default_factory=list)
    node_commands: list[list[str]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)   # generated files written beside step.json
    summary: dict[str, Any] = field(default_factory=dict)  # key parameters for people
    tracking: dict[str, Any] = field(default_factory=dict)  # where the runner reports (not fingerprinted)

    @property
    def short_id(self) -> str:
        return self.id.split("/", 1)[1]

    def command_line(self) -> str:
        return shlex.join(self.command)

    def typed_params(self):
        """The parameters as the runner reads them (what its step.json parses into)."""
        from modelops.step_kinds import step_kind

        return step_kind(self.kind).model_validate(self.params)


@dataclass
class RecipePlan:
    name: str
    file: str
    task: str
    workdir: str
    hardware: dict[str, Any]
    model: dict[str, Any] | None
    training: dict[str, Any] | None
    steps: list[Step]
    notes: list[str] = field(default_factory=list)
    network: list[dict[str, str]] = field(default_factory=list)   # key, where, what (plan/network.py)
    overrides: list[str] = field(default_factory=list)            # `--set KEY=VALUE` applied to this recipe
    gates: list[str] = field(default_factory=list)                # conditions on metrics (modelops/gates.py)
    cache: dict[str, Any] | None = None                           # the shared cache: url (resolved), pull, push


@dataclass
class Plan:
    modelops: str
    recipes: list[RecipePlan]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        return [step for recipe in self.recipes for step in recipe.steps]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
