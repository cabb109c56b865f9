"""The low-rank term on the cheaper side (lora.py): added to the output for few rows, to a transient
copy of the weight for many (compression), with the same result; and the MLP's row chunks share one
dequantised, corrected copy of each weight (``held_weights``). The aten calls are watched through
PyTorch's dispatch mode, so the tests see which side each path takes, not just its result."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from worker.clara import model as model_module
from worker.clara.lora import LoraLinear, corrects_weight
from worker.clara.model import MLP, ModelConfig
from worker.clara.quantize import dequantize

IN, OUT, RANK = 48, 40, 4


class ShapeLog(TorchDispatchMode):
    """Records (op name, output shape) of every aten call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor):
            self.calls.append((str(func.overloadpacket.__name__), tuple(out.shape)))
        return out

    def shapes(self, op: str) -> list[tuple[int, ...]]:
        return [shape for name, shape in self.calls if name == op]


@contextmanager
def watched() -> Iterator[ShapeLog]:
    log = ShapeLog()
    with log:
        yield log


def layer(quantized: str | None = None, in_features: int = IN, out_features: int = OUT) -> LoraLinear:
    torch.manual_seed(0)
    lin = LoraLinear(in_features, out_features)
    lin.weight.data = torch.randn(out_features, in_features) / in_features ** 0.5
    for name in ("decoder", "encoder"):
        lin.add_adapter(name, torch.randn(RANK, in_features) * 0.1, torch.randn(out_features, RANK) * 0.1, 2.0)
    lin.merge("decoder")
    if quantized:
        lin.quantize(quantized)
    lin.active = "encoder"  # a role other than the merged one: a low-rank correction on every call
    return lin


def reference(lin: LoraLinear, x: torch.Tensor) -> torch.Tensor:
    """x @ (W - ΔD + ΔE)^T in float64, W dequantised."""
    w = lin.weight.double() if lin.weight_scale is None else dequantize(lin.weight, lin.weight_scale, torch.float64)
    w = w - lin.delta("decoder").double() + lin.delta("encoder").double()
    return x.double() @ w.t()


def test_the_cheaper_side_by_memory_traffic() -> None:
    # Mistral-7B's q projection: output side for a decode batch, weight side for a compression batch
    assert not corrects_weight(16, 4096, 4096)
    assert corrects_weight(8192, 4096, 4096)
    # the break-even row count: rows * (in + 2 out) = 2 out in
    assert not corrects_weight(2730, 4096, 4096) and corrects_weight(2731, 4096, 4096)
    assert corrects_weight(4096, 4096, 14336) and not corrects_weight(4096, 14336, 4096)  # gate vs down


@pytest.mark.parametrize("quantized", [None, "int8"])
def test_few_rows_correct_the_output_many_rows_the_weight(quantized: str | None) -> None:
    lin = layer(quantized)
    few, many = torch.randn(2, 3, IN), torch.randn(4, 50, IN)  # 6 and 200 rows; break-even: 30
    with watched() as log:
        out_few = lin(few)
    assert (6, OUT) in log.shapes("addmm_") and (OUT, IN) not in log.shapes("addmm") + log.shapes("addmm_")
    with watched() as log:
        out_many = lin(many)
    assert (OUT, IN) in log.shapes("addmm") + log.shapes("addmm_")  # W + B A
    assert not [s for s in log.shapes("addmm_") if s[0] == 200]  # nothing added to the [rows, out] output
    tolerance = 1e-5 if quantized is None else 1e-4
    assert torch.allclose(out_few.double(), reference(lin, few), atol=tolerance)
    assert torch.allclose(out_many.double(), reference(lin, many), atol=tolerance)
    assert out_many.shape == (4, 50, OUT)


def mlp(quantized: str | None) -> MLP:
    config = ModelConfig(hidden_size=IN, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=OUT * 2, vocab_size=64)
    block = MLP(config)
    for i, name in enumerate(("gate_proj", "up_proj", "down_proj")):
        part: LoraLinear = getattr(block, name)
        torch.manual_seed(i)
        part.weight.data = torch.randn(part.out_features, part.in_features) / part.in_features ** 0.5
        part.add_adapter("encoder", torch.randn(RANK, part.in_features) * 0.1,
                         torch.randn(part.out_features, RANK) * 0.1, 2.0)
        if quantized:
            part.quantize(quantized)
        part.active = "encoder"
    return block


@pytest.mark.parametrize("quantized", [None, "int8"])
def test_mlp_chunks_share_one_corrected_copy_of_each_weight(monkeypatch: pytest.MonkeyPatch,
                                                            quantized: str | None) -> None:
    block = mlp(quantized)
    x = torch.randn(1, 300, IN)
    whole = block(x)  # 300 rows in one pass
    monkeypatch.setattr(model_module, "MLP_ROWS", 64)  # 5 chunks
    count: Callable[[ShapeLog], int] = lambda log: sum(  # noqa: E731
        1 for s in log.shapes("addmm") + log.shapes("addmm_") if s in ((OUT * 2, IN), (IN, OUT * 2)))
    with watched() as log:
        chunked = block(x)
    assert count(log) == 3  # gate, up, down: corrected once each, not once per chunk
    assert all(part.held is None for part in (block.gate_proj, block.up_proj, block.down_proj))
    assert torch.allclose(chunked, whole, atol=1e-5)
