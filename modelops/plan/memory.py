"""Peak memory per device for a training run, from published formulas.

Model state (Rajbhandari et al., "ZeRO", 2020, §3.1): mixed-precision AdamW keeps
16 bytes per trained parameter — 2 (16-bit weights) + 2 (16-bit gradients) + 12
(fp32 master weights, momentum, variance). Pure fp32 training keeps the same 16
(4 weights + 4 gradients + 8 moments). Frozen weights cost 2 bytes (16-bit) or 4
(fp32). ZeRO-3 / FSDP full-shard divides model state by the number of devices;
ZeRO-2 divides gradients and optimizer state only.

QLoRA (Dettmers et al., 2023, §3): NF4 with double quantisation stores frozen
linear weights in 4.127 bits per parameter; embeddings stay 16-bit.

Activations (Korthikanti et al., "Reducing Activation Recomputation in Large
Transformer Models", 2022, eq. 1): a transformer block stores
s·b·h·(34 + 5·a·s/h) bytes with 16-bit activations, where s is the sequence
length, b the micro-batch, h the hidden size and a the attention heads. With
memory-efficient attention (SDPA, FlashAttention) the a·s²·b score term is not
stored, leaving 34·s·b·h. With full activation checkpointing each block keeps
only its 16-bit input, 2·s·b·h, plus one block's full activations during
recomputation. fp32 activations double all of these.

Logits: the output head's b·s·V logits are kept in 16-bit, upcast to fp32 for the
loss and their fp32 gradient is materialised: 10 bytes per element (12 in fp32).

Overhead: CUDA context and allocator reserve ≈0.75 GiB per GPU; on CPU ≈0.5 GiB
of Python and libraries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from modelops.plan.shapes import ModelShape

GIB = 1024**3
QLORA_BITS = 4.127


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per device, by component."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    logits: float
    overhead: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations + self.logits + self.overhead

    def as_gib(self) -> dict[str, float]:
        parts = {k: round(v / GIB, 2) for k, v in asdict(self).items()}
        return parts | {"total": round(self.total / GIB, 2)}


@dataclass(frozen=True)
class MemoryInputs:
    shape: ModelShape
    adapter: str              # none | lora | dora | qlora
    trainable: int            # trained parameters (all of them for full training)
    half_precision: bool      # 16-bit weights/activations, else fp32
    micro_batch: int          # sequences per device per forward pass
    seq_len: int
    checkpointing: bool
    shard: str                # none | zero2 | full
    devices: int
    efficient_attention: bool
    cuda: bool
    sequences_per_example: int = 1   # DPO runs chosen and rejected together
    reference_copy: bool = False     # DPO without an adapter keeps a frozen reference model
    scorer_params: int = 0           # frozen models that only score (GRPO's reward models), on every device


def estimate_memory(x: MemoryInputs) -> MemoryEstimate:
    p_all = x.shape.params
    weight_bytes = 2 if x.half_precision else 4
    state_divisor = x.devices if x.shard == "full" else 1
    optim_divisor = x.devices if x.shard in ("full", "zero2") else 1

    if x.adapter == "none":
        # 16 bytes per parameter in all (see module docstring), split by role.
        weights, gradients, optimizer = (2 * p_all, 2 * p_all, 12 * p_all) if x.half_precision else \
            (4 * p_all, 4 * p_all, 8 * p_all)
    else:
        # Adapter weights train in fp32 (PEFT upcasts them): 4 + 4 + 8 bytes each.
        frozen = _frozen_bytes(x, p_all, weight_bytes)
        weights, gradients, optimizer = frozen + 4 * x.trainable, 4 * x.trainable, 8 * x.trainable
    if x.reference_copy:
        weights += weight_bytes * p_all
    weights += weight_bytes * x.scorer_params * (x.devices if x.shard == "full" else 1)   # not sharded
    weights /= state_divisor
    gradients /= optim_divisor
    optimizer /= optim_divisor

    tokens = x.micro_batch * x.sequences_per_example * x.seq_len
    act_scale = 1 if x.half_precision else 2
    h, a, s = x.shape.hidden, x.shape.heads, x.seq_len
    full_block = tokens * h * (34 + (0 if x.efficient_attention else 5 * a * s / h)) * act_scale
    if x.checkpointing:
        activations = x.shape.layers * 2 * tokens * h * act_scale + full_block
    else:
        activations = x.shape.layers * full_block
    logits = tokens * x.shape.vocab * (10 if x.half_precision else 12)
    overhead = 0.75 * GIB if x.cuda else 0.5 * GIB
    return MemoryEstimate(weights, gradients, optimizer, activations, logits, overhead)


def _frozen_bytes(x: MemoryInputs, p_all: int, weight_bytes: int) -> float:
    if x.adapter == "qlora":
        embeddings = x.shape.embedding_params
        return (p_all - embeddings) * QLORA_BITS / 8 + embeddings * 2
    return p_all * weight_bytes
