"""Each task kind's facts, in one place: the data formats it trains on, its defaults, the TRL trainer that
runs it, what its memory estimate counts, how plans title it and what `modelops init` starts from. The
recipe schema, the planner, the runners, the CLI's choices and the docs read them here; asking for a kind
that is not here is an error, never a fallback to another kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskKind:
    name: str
    title: str
    formats: tuple[str, ...]                 # accepted `data.*.format`s, the default first
    starter_base: str | None = None          # `modelops init` defaults
    starter_data: str = ""
    learning_rate_full: float | None = None  # default peak learning rates: full training, adapter
    learning_rate_adapter: float | None = None
    trainer: str | None = None               # TRL's trainer and config classes
    config: str | None = None
    packing: bool = False                    # default of `task.packing`
    sequences_per_example: int = 1           # memory: a preference pair is two sequences
    reference_model: bool = False            # memory: a frozen reference copy when training fully
    compares_answers: bool = False           # evaluation: held-out preference win rate
    chat: bool = False                       # trains on conversations: the base needs a chat template

    @property
    def default_format(self) -> str:
        return self.formats[0]

    @property
    def trains_language_model(self) -> bool:
        return self.trainer is not None

    def learning_rate(self, full: bool) -> float:
        rate = self.learning_rate_full if full else self.learning_rate_adapter
        if rate is None:
            raise ValueError(f"task kind `{self.name}` has no learning rate")
        return rate


TASK_KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (
    TaskKind("regression", "Time-series regression with LightGBM", ("table",), starter_data="data/series.csv"),
    TaskKind("pretrain", "Continued pretraining (causal LM)", ("text",), "Qwen/Qwen2.5-0.5B", "data/corpus.txt",
             3e-4, 2e-4, "SFTTrainer", "SFTConfig", packing=True),
    TaskKind("sft", "Supervised fine-tuning", ("messages", "alpaca", "sharegpt"), "Qwen/Qwen2.5-0.5B-Instruct",
             "data/chats.jsonl", 2e-5, 2e-4, "SFTTrainer", "SFTConfig", packing=True, compares_answers=True,
             chat=True),
    TaskKind("dpo", "Direct preference optimisation", ("preference",), "Qwen/Qwen2.5-0.5B-Instruct",
             "data/preferences.jsonl", 5e-7, 5e-6, "DPOTrainer", "DPOConfig", sequences_per_example=2,
             reference_model=True, compares_answers=True, chat=True),
    # KTO scores each answer and a mismatched one (its KL estimate): two sequences per example
    TaskKind("kto", "Kahneman-Tversky optimisation (unpaired desirable/undesirable answers)", ("unpaired",),
             "Qwen/Qwen2.5-0.5B-Instruct", "data/feedback.jsonl", 5e-7, 5e-6, "KTOTrainer", "KTOConfig",
             sequences_per_example=2, reference_model=True, compares_answers=True, chat=True),
)}


def task_kind(name: str) -> TaskKind:
    try:
        return TASK_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown task kind `{name}`; known: {', '.join(TASK_KINDS)}") from None
