"""The memory estimate follows its published formulas."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modelops.plan.memory import MemoryInputs, estimate_memory
from modelops.plan.shapes import shape_from_catalog


@pytest.fixture
def base() -> MemoryInputs:
    shape = shape_from_catalog("Qwen/Qwen2.5-7B-Instruct")
    return MemoryInputs(shape=shape, adapter="none", trainable=shape.params, half_precision=True, micro_batch=1,
                        seq_len=1024, checkpointing=False, shard="none", devices=1, efficient_attention=True, cuda=True)


def test_catalog_parameter_counts_match_published_sizes():
    for model_id, billions in [
        ("Qwen/Qwen2.5-0.5B", 0.49),
        ("Qwen/Qwen2.5-7B", 7.62),
        ("meta-llama/Llama-3.1-8B", 8.03),
        ("meta-llama/Llama-3.1-70B", 70.6),
        ("Qwen/Qwen3-8B", 8.19),
        ("mistralai/Mistral-7B-v0.3", 7.25),
    ]:
        assert shape_from_catalog(model_id).params / 1e9 == pytest.approx(billions, rel=0.01), model_id


def test_full_training_keeps_16_bytes_per_parameter(base):
    m = estimate_memory(base)
    assert m.weights + m.gradients + m.optimizer == 16 * base.shape.params


def test_full_shard_divides_model_state_and_zero2_leaves_weights(base):
    full = estimate_memory(replace(base, shard="full", devices=8))
    zero2 = estimate_memory(replace(base, shard="zero2", devices=8))
    p = base.shape.params
    assert full.weights + full.gradients + full.optimizer == pytest.approx(16 * p / 8)
    assert zero2.weights == 2 * p and zero2.optimizer == pytest.approx(12 * p / 8)


def test_adapters_shrink_model_state_and_qlora_stores_4_bit_weights(base):
    r16 = base.shape.lora_params(16, "all-linear")
    lora = estimate_memory(replace(base, adapter="lora", trainable=r16))
    qlora = estimate_memory(replace(base, adapter="qlora", trainable=r16))
    assert lora.weights == 2 * base.shape.params + 4 * r16
    assert qlora.weights < lora.weights / 2.5


def test_activations_follow_korthikanti(base):
    s, h, a, layers = 1024, base.shape.hidden, base.shape.heads, base.shape.layers
    assert estimate_memory(base).activations == pytest.approx(layers * s * h * 34)
    eager = estimate_memory(replace(base, efficient_attention=False))
    assert eager.activations == pytest.approx(layers * s * h * (34 + 5 * a * s / h))
    ckpt = estimate_memory(replace(base, checkpointing=True))
    assert ckpt.activations == pytest.approx(layers * 2 * s * h + s * h * 34)
