"""Step `train_grpo`: see modelops.lm.train (launched under `accelerate launch`)."""

from modelops.lm.train import train
from modelops.steps.runtime import main

if __name__ == "__main__":
    main(lambda spec: train(spec, "grpo"))
