"""Lifecycle helpers for xbar-converted TorchScript models in Python (Debian's /usr/bin/python3).

    import torch, xbar_model
    xbar_model.load_library("build/libxbar_torch.so")
    m = torch.jit.load("model_analog.pt")
    xbar_model.program(m, chip=3)        # next forward programs chip 3 (Monte Carlo instance)
    y = m(x)
    xbar_model.drift(m, 86400.0)         # the same chip one day after programming
    print(xbar_model.counters(m))        # per-layer tiles, conversions, saturations, ...
"""
import torch


def load_library(path):
    torch.ops.load_library(path)


def layers(model):
    """(attribute name, torch.classes.xbar.Layer) of every converted operator."""
    return [(name, getattr(model, name)) for name in model.xbar_layer_attributes]


MAX_CHIP = 2**63 - 1  # chips are numbered 0 .. MAX_CHIP (a signed 64-bit key)


def program(model, chip=0):
    chip = int(chip)
    if not 0 <= chip <= MAX_CHIP:
        raise ValueError(f"chip = {chip}: must be in 0 .. {MAX_CHIP}")
    for _, layer in layers(model):
        layer.reset()
        layer.set_chip(chip)


def drift(model, t_s):
    for _, layer in layers(model):
        layer.drift_to(float(t_s))


def reset(model):
    for _, layer in layers(model):
        layer.reset()


def counters(model):
    return {layer.name(): dict(layer.counters()) for _, layer in layers(model)}
