"""Lifecycle of an xbar-converted TorchScript model: which chip it holds, its drift, counters,
calibration and cost. Each function reads or sets the model's torch.classes.xbar.Layer objects.

    import torch, xbar
    m = torch.jit.load("model_analog.pt")   # or xbar.convert(...)
    xbar.program(m, chip=3)        # next forward programs chip 3 (Monte Carlo instance)
    xbar.calibrate(m, batches)     # calibrated ADC ranges from your calibration data
    y = m(x)
    xbar.drift(m, 86400.0)         # the same chip one day after programming
    print(xbar.counters(m))        # per-layer tiles, conversions, saturations, ...
    per_layer, total = xbar.cost(m, "data/hardware/isaac.toml", inferences=len(x))
"""
from typing import Any, Dict, Iterable, List, Tuple, Union

import torch


def load_library(path: str) -> None:
    """Loads the operator library at `path` (see xbar.load, which finds it)."""
    torch.ops.load_library(path)


def layers(model: torch.jit.ScriptModule) -> List[Tuple[str, Any]]:
    """(attribute name, torch.classes.xbar.Layer) of every converted operator."""
    return [(name, getattr(model, name)) for name in model.xbar_layer_attributes]


MAX_CHIP = 2**63 - 1  # chips are numbered 0 .. MAX_CHIP (a signed 64-bit key)


def program(model: torch.jit.ScriptModule, chip: int = 0) -> None:
    """The next forward programs chip `chip` (a Monte Carlo instance: same chip, same noise)."""
    chip = int(chip)
    if not 0 <= chip <= MAX_CHIP:
        raise ValueError(f"chip = {chip}: must be in 0 .. {MAX_CHIP}")
    for _, layer in layers(model):
        layer.reset()
        layer.set_chip(chip)


def drift(model: torch.jit.ScriptModule, t_s: float) -> None:
    """Reads the programmed chip `t_s` seconds after programming (conductance drift)."""
    for _, layer in layers(model):
        layer.drift_to(float(t_s))


def reset(model: torch.jit.ScriptModule) -> None:
    """Forgets the programmed chip and the counters."""
    for _, layer in layers(model):
        layer.reset()


def counters(model: torch.jit.ScriptModule) -> Dict[str, Dict[str, float]]:
    """Per layer: tiles, arrays, occupancy, conversions, saturations, ... since programming."""
    return {layer.name(): dict(layer.counters()) for _, layer in layers(model)}


def calibrate(model: torch.jit.ScriptModule, batches: Union[torch.Tensor, Iterable[torch.Tensor]],
              source: str = "python batches") -> None:
    """Calibration pass on the chip the model holds now (after program()): layers with
    adc.range = "calibrated" set their ranges from what they read here, and refuse to read
    without them. `batches` (a tensor, or an iterable of tensors concatenated along dim 0) go
    through the model as ONE batch in eval mode, as `xbar eval` does with its calibration set.
    Use training (calibration) data, never the data you evaluate on. `source` is stored with the
    ranges (saved with the model)."""
    x = batches if isinstance(batches, torch.Tensor) else torch.cat(list(batches))
    ls = [l for _, l in layers(model)]
    model.eval()
    for l in ls:
        l.set_calibrating(True)
    try:
        with torch.no_grad():
            model(x)
    finally:
        for l in ls:
            l.set_calibrating(False)
    for l in ls:
        if not l.calibrated():
            raise RuntimeError("xbar layer %s needs calibrated ADC ranges but the forward pass did not reach it"
                               % l.name())
        if l.needs_calibration():
            l.set_calibration_source(source)


def adc_ranges(model: torch.jit.ScriptModule) -> Dict[str, List[float]]:
    """Calibrated ADC LSBs of every layer that has them (the ranges a calibration pass set)."""
    return {l.name(): list(l.adc_lsbs()) for _, l in layers(model) if l.needs_calibration()}


def calibration_source(model: torch.jit.ScriptModule) -> Dict[str, str]:
    """Where the ranges came from (data set, split, count, seed), per calibrated layer."""
    return {l.name(): l.calibration_source() for _, l in layers(model) if l.needs_calibration()}


def cost(model: torch.jit.ScriptModule, hardware_file: str,
         inferences: float = 1.0) -> Tuple[Dict[str, Dict[str, float]], Dict[str, float]]:
    """Per layer: energy by component (pJ), latency (ns), area (um^2, mm^2) and ops of everything the
    layer counted since programming, divided by `inferences` -- the cost model of engine/cost.h
    evaluated in C++ (Layer.cost), so the numbers equal `xbar eval`'s. Totals: energy_pJ summed,
    latency_ns summed (layers in sequence), area_mm2 summed."""
    per_layer = {layer.name(): dict(layer.cost(str(hardware_file), float(inferences))) for _, layer in layers(model)}
    total = {k: sum(c[k] for c in per_layer.values()) for k in ("energy_pJ", "latency_ns", "area_mm2", "ops")}
    return per_layer, total
