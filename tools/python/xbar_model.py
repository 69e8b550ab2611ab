"""Lifecycle helpers for xbar-converted TorchScript models in Python (Debian's /usr/bin/python3).

    import torch, xbar_model
    xbar_model.load_library("build/libxbar_torch.so")
    m = torch.jit.load("model_analog.pt")
    xbar_model.program(m, chip=3)        # next forward programs chip 3 (Monte Carlo instance)
    y = m(x)
    xbar_model.drift(m, 86400.0)         # the same chip one day after programming
    print(xbar_model.counters(m))        # per-layer tiles, conversions, saturations, ...
    per_layer, total = xbar_model.cost(m, "data/hardware/isaac.toml", inferences=len(x))
"""
import torch


def load_library(path):
    torch.ops.load_library(path)


def layers(model):
    """(attribute name, torch.classes.xbar.Layer) of every converted operator."""
    return [(name, getattr(model, name)) for name in model.xbar_layer_attributes]


def program(model, chip=0):
    for _, layer in layers(model):
        layer.reset()
        layer.set_chip(int(chip))


def drift(model, t_s):
    for _, layer in layers(model):
        layer.drift_to(float(t_s))


def reset(model):
    for _, layer in layers(model):
        layer.reset()


def counters(model):
    return {layer.name(): dict(layer.counters()) for _, layer in layers(model)}


def cost(model, hardware_file, inferences=1.0):
    """Per layer: energy by component (pJ), latency (ns), area (um^2, mm^2) and ops of everything the
    layer counted since programming, divided by `inferences` -- the cost model of engine/cost.h
    evaluated in C++ (Layer.cost), so the numbers equal `xbar eval`'s. Totals: energy_pJ summed,
    latency_ns summed (layers in sequence), area_mm2 summed."""
    per_layer = {layer.name(): dict(layer.cost(str(hardware_file), float(inferences))) for _, layer in layers(model)}
    total = {k: sum(c[k] for c in per_layer.values()) for k in ("energy_pJ", "latency_ns", "area_mm2", "ops")}
    return per_layer, total
