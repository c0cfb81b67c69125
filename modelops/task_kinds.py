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
    reference_model: bool = False            # memory: a frozen reference copy when training fully (and beta > 0)
    compares_answers: bool = False           # evaluation: held-out preference win rate
    chat: bool = False                       # trains on conversations: the base needs a chat template
    scores: bool = False                     # a sequence classifier with one score (a reward model), not a generator
    answers: bool = True                     # the data carries answers (GRPO's prompts do not: it samples them)

    @property
    def default_format(self) -> str:
        return self.formats[0]

    @property
    def trains_language_model(self) -> bool:
        return self.trainer is not None

    @property
    def evaluation(self) -> str:
        """The title of the evaluation step (plan/expand.py)."""
        if self.scores:
            return "Held-out pair accuracy and score margin of the reward model"
        if not self.answers:
            return "Sample answers to held-out prompts"
        return "Validation loss and perplexity" + (", preference win rate" if self.compares_answers else "")

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
    TaskKind("reward", "Reward model on preference pairs", ("preference",), "Qwen/Qwen2.5-0.5B-Instruct",
             "data/preferences.jsonl", 1e-5, 1e-4, "RewardTrainer", "RewardConfig", sequences_per_example=2,
             chat=True, scores=True),
    # GRPO's batch counts completions
    TaskKind("grpo", "Group relative policy optimisation (sampled completions scored by rewards)", ("prompts",),
             "Qwen/Qwen2.5-0.5B-Instruct", "data/prompts.jsonl", 1e-6, 1e-5, "GRPOTrainer", "GRPOConfig",
             reference_model=True, chat=True, answers=False),
)}


def task_kind(name: str) -> TaskKind:
    try:
        return TASK_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown task kind `{name}`; known: {', '.join(TASK_KINDS)}") from None
