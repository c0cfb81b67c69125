"""Did a step make things better? Read from the metrics a step recorded, not from its kind: validation loss
before and after training, held-out mean reward before and after, held-out preference and pair accuracy
and win rate against chance, a forecast against its naive baselines. `apply` prints the warnings; the
report shows every verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHANCE = 0.5
INTERVAL_SLACK = 0.05   # coverage this far below the level is still as stated, for a few hundred validation rows


@dataclass(frozen=True)
class Verdict:
    ok: bool
    text: str


def verdicts(metrics: dict[str, Any]) -> list[Verdict]:
    found = []
    before, after = metrics.get("eval_loss_before"), metrics.get("eval_loss")
    if isinstance(before, (int, float)) and isinstance(after, (int, float)):
        ok = after < before
        found.append(Verdict(ok, f"validation loss {before:.4g} → {after:.4g}: " + (
            "the model got better on held-out data" if ok else
            "ROSE — the run made the model worse on held-out data" if after > before else
            "unchanged — the run did not make the model better on held-out data")))
    reward_before, reward_after = metrics.get("eval_reward_before"), metrics.get("eval_reward")
    if isinstance(reward_before, (int, float)) and isinstance(reward_after, (int, float)):   # GRPO
        ok = reward_after > reward_before
        found.append(Verdict(ok, f"held-out mean reward {reward_before:.4g} → {reward_after:.4g}: " + (
            "the completions score better" if ok else "NOT higher — the run did not improve the completions")))
    for key, what in (("eval_rewards/accuracies", "held-out preference accuracy"),
                      ("preference_win_rate", "held-out preference win rate"),
                      ("pair_accuracy", "held-out pair accuracy of the reward model")):
        value = metrics.get(key)
        if isinstance(value, (int, float)):
            ok = value > CHANCE
            found.append(Verdict(ok, f"{what} {value:.2f}: " + (
                "the chosen answers are preferred" if ok else
                f"not above chance ({CHANCE}) — the model does not prefer the chosen answers")))
    for level, share in (metrics.get("interval_coverage") or {}).items():
        ok = share >= int(level) / 100 - INTERVAL_SLACK
        found.append(Verdict(ok, f"{level}% prediction intervals covered {share:.1%} of held-out forecasts" + (
            "" if ok else " — too narrow: do not trust them as stated")))
    if isinstance(metrics.get("tracking_warning"), str):
        found.append(Verdict(False, f"tracking failed, the run went on: {metrics['tracking_warning']}"))
    if "beats_naive" in metrics:
        mae, naive = metrics.get("mae"), metrics.get("naive_mae")
        numbers = f"mae {mae:.4g} vs naive {naive:.4g}: " if isinstance(mae, float) and isinstance(naive, float) else ""
        found.append(Verdict(bool(metrics["beats_naive"]), numbers + (
            "beats the naive baselines" if metrics["beats_naive"] else "WORSE than a naive baseline")))
    return found
