"""Noise-aware (hardware-aware) retraining in your own PyTorch training loop, for any model and any
data: the algorithm of `xbar train --hwa`, run by the same C++ functions (torch/hwa_step.h,
reached through torch.ops.xbar.hwa_*), with your loop, loss, optimizer and data.

Every step programs a fresh training chip (chip numbers >= 2^40, never an evaluation chip 0, 1,
2, ...; one per step or per `chip_every` steps) with the policy at the training drift time, runs
the forward in calibration mode (the batch sets the training chip's ADC ranges), back-propagates
with straight-through gradients, and after the optimizer step clips the weights and keeps the
learned input (DAC) ranges positive. The result is the float model with the trained weights and
the policy with the learned ranges as per-layer static DAC ranges.

    import torch, xbar.hwa
    hw = xbar.hwa.HWA(net, "data/policies/pcm_adc6.toml", t_train_s=86400.0)
    hw.init_ranges(first_batch_inputs)
    opt = torch.optim.Adam(hw.param_groups(lr=5e-4, range_lr=1e-2), foreach=False)
    for step, (x, y) in enumerate(batches):
        loss = torch.nn.functional.cross_entropy(hw(x, step=step), y)
        opt.zero_grad(); loss.backward(); opt.step()
        hw.constrain()
    hw.save("out")            # out/model.pt (float TorchScript), out/policy.toml (learned ranges)
    chip_model = hw.analog()  # converted for evaluation: xbar.program(chip_model, k), ...

With `torch.optim.Adam(..., foreach=False)`, batches and learning rates as `xbar train --hwa`
uses them (cosine_lr below), a run reproduces the CLI's trained weights bit for bit
(tests/python/test_hwa.py).
"""
import io
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import torch

from . import convert, load
from .lifecycle import layers, program
from .policy_text import policy_text

__all__ = ["HWA", "train_chip", "cosine_lr", "CLIPS"]

CLIPS = ("none", "fixed", "sigma")  # weight clipping after each step (--clip of xbar train --hwa)

PolicyArg = Union[None, str, os.PathLike, Mapping[str, Any]]


def train_chip(seed: int, step: int) -> int:
    """The chip of training step `step` in a run with seed `seed` (>= 2^40: never an evaluation
    chip). The same numbers `xbar train --hwa --seed` programs."""
    load()
    return int(torch.ops.xbar.hwa_train_chip(int(seed), int(step)))


def cosine_lr(step: int, total: int, peak: float) -> float:
    """The learning rate of `xbar train`'s cosine schedule at `step` of `total` (the C++ function
    itself, torch/hwa_step.h): linear warm-up over min(200, total/20) steps (at least 1), then
    cosine from `peak` down to 0.1 peak."""
    load()
    return float(torch.ops.xbar.hwa_cosine_lr(int(step), int(total), float(peak)))


def _policy(policy: PolicyArg):
    if policy is None:
        return "", "<ideal>"
    return policy_text(policy)


def _error(e: RuntimeError) -> ValueError:
    return ValueError(str(e).split("\nException raised from")[0].strip())


class HWA:
    """A model prepared for noise-aware training: `module` is the model converted with the
    training policy (its parameters are what you optimize, with the learned ranges).

    model: an nn.Module (scripted, or traced with `example_inputs` when scripting fails) or a
    float ScriptModule; it is not modified (copy the result back with `export_float` or
    `state_dict()`). policy: a policy file path, TOML text, dict, or None (every stage ideal).
    t_train_s: drift time of the training chips (None: the policy's run.t_inference_s).
    read_noise: False trains without read noise. clip: "none", "fixed" (|w| <= clip_value) or
    "sigma" (|w| <= clip_value * std of the layer). learn_ranges: learn each analog linear/conv
    layer's input (DAC) range. seed: selects the training chips. chip_every: a fresh chip every
    N steps (1: every step, as the CLI).
    """

    def __init__(self, model: Any, policy: PolicyArg = None, *, t_train_s: Optional[float] = None,
                 read_noise: bool = True, clip: str = "sigma", clip_value: float = 2.5, learn_ranges: bool = True,
                 seed: int = 1, chip_every: int = 1,
                 example_inputs: Optional[Union[torch.Tensor, Sequence[torch.Tensor]]] = None) -> None:
        load()
        if clip not in CLIPS:
            raise ValueError("clip = %r: must be one of %s" % (clip, ", ".join(CLIPS)))
        if clip != "none" and not (clip_value > 0 and math.isfinite(clip_value)):
            raise ValueError("clip_value = %r: must be finite and > 0" % (clip_value,))
        if int(chip_every) < 1:
            raise ValueError("chip_every = %r: must be >= 1" % (chip_every,))
        from . import _scripted  # the same scripting / tracing as xbar.convert
        self.policy_toml, self.policy_source = _policy(policy)
        try:
            train_toml = torch.ops.xbar.hwa_training_policy(self.policy_toml, self.policy_source,
                                                            -1.0 if t_train_s is None else float(t_train_s),
                                                            bool(read_noise))
        except RuntimeError as e:
            raise _error(e) from None
        float_model = _scripted(model, example_inputs)
        buf = io.BytesIO()
        torch.jit.save(float_model, buf)
        self._float_bytes = buf.getvalue()
        self.module, self.report = convert(float_model, train_toml)
        self.clip, self.clip_value = clip, float(clip_value)
        self.seed, self.chip_every, self.learn_ranges = int(seed), int(chip_every), bool(learn_ranges)
        for p in self.module.parameters():
            p.requires_grad_(True)
        all_layers = [l for _, l in layers(self.module)]
        named = list(self.module.named_parameters())
        li, pi = torch.ops.xbar.hwa_trained(all_layers, [n for n, _ in named])
        self.trained_layers = [all_layers[i] for i in li]   # analog weight products
        self.weights = [named[j][1] for j in pi]            # their weights (clipped)
        if not self.trained_layers:
            raise ValueError("no analog linear/conv layer to train under policy " + self.policy_source)
        for l in self.trained_layers:
            l.learn_input_range(self.learn_ranges)
        self._ranges_ready = not self.learn_ranges

    def chip(self, step: int) -> int:
        """The training chip of `step`."""
        return train_chip(self.seed, int(step) // self.chip_every)

    def _forward(self, step: int, args: Sequence[Any]) -> Any:
        program(self.module, self.chip(step))
        ls = [l for _, l in layers(self.module)]
        for l in ls:
            l.set_calibrating(True)  # the training batch sets the training chip's ADC ranges
        try:
            return self.module(*args)
        finally:
            for l in ls:
                l.set_calibrating(False)

    def init_ranges(self, *inputs: Any) -> None:
        """Initial input ranges from one forward of `inputs` (e.g. the first training batch) on
        the chip of step 0 (each range: the 99.9th percentile of |x| at that layer). Required
        before param_groups() when learning ranges."""
        with torch.no_grad():
            self._forward(0, inputs)
        self._ranges_ready = True

    def __call__(self, *inputs: Any, step: int) -> Any:
        """The training forward of step `step`: programs that step's chip, then module(*inputs)."""
        if not self._ranges_ready:
            raise RuntimeError("xbar.hwa: call init_ranges(first batch inputs) before training with learned ranges")
        return self._forward(step, inputs)

    def ranges(self) -> List[torch.Tensor]:
        """The learned input ranges (0-dim float64 tensors that require grad), per trained layer."""
        out = []
        for l in self.trained_layers:
            r = l.input_range() if l.learns_input_range() else None
            if r is not None:
                out.append(r)
        return out

    def param_groups(self, lr: float = 5e-4, range_lr: float = 1e-2) -> List[Dict[str, Any]]:
        """Optimizer parameter groups: every parameter of `module` at `lr`, the learned ranges at
        `range_lr` (the CLI's --lr and --range-lr)."""
        if not self._ranges_ready:
            raise RuntimeError("xbar.hwa: call init_ranges(first batch inputs) before param_groups()")
        groups = [{"params": list(self.module.parameters()), "lr": float(lr)}]
        if self.learn_ranges:
            groups.append({"params": self.ranges(), "lr": float(range_lr)})
        return groups

    def constrain(self) -> None:
        """After every optimizer step: clip the weights, keep the learned ranges positive."""
        torch.ops.xbar.hwa_constrain(self.weights, self.ranges(), self.clip, self.clip_value)

    def policy(self) -> str:
        """The evaluation policy (as given, not the training one) with each learned range as that
        layer's static DAC range, as TOML text (what `xbar train --hwa` writes to policy.toml)."""
        return torch.ops.xbar.hwa_ranged_policy(self.policy_toml, self.policy_source, self.trained_layers)

    def export_float(self) -> torch.jit.ScriptModule:
        """The float model (as given, unconverted) with the trained parameters."""
        names, values = zip(*[(n, p.detach()) for n, p in self.module.named_parameters()])
        data = torch.frombuffer(bytearray(self._float_bytes), dtype=torch.uint8)
        out = torch.ops.xbar.hwa_export_float(data, list(names), list(values))
        return torch.jit.load(io.BytesIO(out.numpy().tobytes()))

    def state_dict(self) -> Dict[str, torch.Tensor]:
        """The trained parameters by name, for your nn.Module's load_state_dict(..., strict=False)."""
        return {n: p.detach().clone() for n, p in self.module.named_parameters()}

    def analog(self) -> torch.jit.ScriptModule:
        """The trained model converted with policy(): evaluate it with xbar.program(m, k),
        xbar.calibrate, xbar.drift as any converted model."""
        m, _ = convert(self.export_float(), self.policy())
        return m

    def save(self, out_dir: Union[str, os.PathLike]) -> None:
        """Writes out_dir/model.pt (export_float) and out_dir/policy.toml (policy()), the files
        `xbar eval --model out_dir/model.pt --policy out_dir/policy.toml` reads."""
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        torch.jit.save(self.export_float(), str(d / "model.pt"))
        (d / "policy.toml").write_text("# " + self.policy_source + " as used for HWA training by xbar.hwa, with the "
                                       "learned input ranges as static DAC ranges.\n" + self.policy())
