"""xbar from Python: convert a PyTorch model to run its matrix products on emulated crossbar
arrays (in process, with the same C++ converter as `xbar convert`), then program chips, drift
them, calibrate, and read counters and cost.

    import torch, xbar
    m, report = xbar.convert(my_module, "data/policies/pcm_adc6.toml", example_inputs=x[:1])
    print(report.table)
    xbar.program(m, chip=0)
    xbar.calibrate(m, calibration_images)     # policies with a calibrated ADC
    y = m(x)

Noise-aware retraining in your own training loop: xbar.hwa (python/xbar/hwa.py).

The operator library (libxbar_torch.so, built by CMake) is found by xbar.load(); every function
here calls it first.
"""
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from .lifecycle import (MAX_CHIP, adc_ranges, calibration_source, calibrate, cost, counters, drift,  # noqa: F401
                        layers, program, reset)
from .policy_text import policy_text

__all__ = ["load", "library_candidates", "convert", "ConversionReport", "ConvertedOp", "program", "drift", "reset",
           "counters", "calibrate", "cost", "adc_ranges", "calibration_source", "layers", "MAX_CHIP"]

_loaded: Optional[str] = None


def library_candidates() -> List[str]:
    """Where load() looks for the operator library, in order: $XBAR_TORCH_LIB alone when set;
    else next to this package, then build/ of the checkout the package sits in (python/xbar ->
    ../../build), then $XBAR_BUILD_DIR."""
    env = os.environ.get("XBAR_TORCH_LIB")
    if env:
        return [env]
    here = Path(__file__).resolve().parent
    paths = [here / "libxbar_torch.so", here.parent.parent / "build" / "libxbar_torch.so"]
    if os.environ.get("XBAR_BUILD_DIR"):
        paths.append(Path(os.environ["XBAR_BUILD_DIR"]) / "libxbar_torch.so")
    return [str(p) for p in paths]


def load(path: Optional[str] = None) -> str:
    """Loads the xbar operator library (once per process) and returns its path. `path`: an
    explicit file; default: the first of library_candidates() that exists. Raises
    FileNotFoundError naming every path tried when none does."""
    global _loaded
    if _loaded is not None:
        return _loaded
    tried = [path] if path else library_candidates()
    for p in tried:
        if os.path.isfile(p):
            torch.ops.load_library(p)
            _loaded = p
            return p
    raise FileNotFoundError("xbar operator library not found; tried: " + ", ".join(tried) +
                            " (build it with tools/build.sh or cmake --build build --target xbar_torch, or set "
                            "XBAR_TORCH_LIB to its path)")


@dataclass
class ConvertedOp:
    """One operator the converter looked at."""
    method: str
    name: str
    kind: str
    op_class: str        # "" when the operator has no crossbar mapping
    converted: bool
    reason: str          # why it stayed float ("" when converted)


@dataclass
class ConversionReport:
    """What xbar.convert did: every operator, and the human-readable table `xbar convert` prints."""
    ops: List[ConvertedOp] = field(default_factory=list)
    table: str = ""

    @property
    def converted(self) -> List[ConvertedOp]:
        return [o for o in self.ops if o.converted]

    @property
    def unconverted(self) -> List[ConvertedOp]:
        return [o for o in self.ops if not o.converted]


def _scripted(model: Any, example_inputs: Optional[Union[torch.Tensor, Sequence[torch.Tensor]]]) -> torch.jit.ScriptModule:
    if isinstance(model, torch.jit.ScriptModule):
        return model
    if not isinstance(model, torch.nn.Module):
        raise TypeError("xbar.convert: model must be a torch.nn.Module or torch.jit.ScriptModule, got "
                        + type(model).__name__)
    was_training = model.training
    model.eval()
    try:
        try:
            return torch.jit.script(model)
        except Exception as e:  # scripting fails on Python-only constructs: trace instead
            if example_inputs is None:
                raise TypeError("xbar.convert: torch.jit.script failed (" + str(e).splitlines()[0] +
                                "); pass example_inputs to trace the model instead") from None
            inputs = (example_inputs,) if isinstance(example_inputs, torch.Tensor) else tuple(example_inputs)
            with torch.no_grad():
                return torch.jit.trace(model, inputs)
    finally:
        model.train(was_training)


def convert(model: Any, policy: Union[str, os.PathLike, Mapping[str, Any]],
            example_inputs: Optional[Union[torch.Tensor, Sequence[torch.Tensor]]] = None
            ) -> Tuple[torch.jit.ScriptModule, ConversionReport]:
    """Converts `model` (an nn.Module, scripted, or traced with `example_inputs` when scripting
    fails; or a ScriptModule) with `policy` (a policy TOML file path, TOML text, or a dict of the
    same tables) by the C++ converter of `xbar convert`, in this process. Returns the converted
    ScriptModule (the input is left unchanged) and the report. Raises TypeError for a model that is
    neither, ValueError for an invalid policy (naming the key) or an already converted model."""
    load()
    text, source = policy_text(policy)
    sm = _scripted(model, example_inputs)
    buf = io.BytesIO()
    torch.jit.save(sm, buf)
    data = torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8)
    try:
        out, table, ops = torch.ops.xbar.convert_serialized(data, text, source)
    except RuntimeError as e:
        raise ValueError(str(e).split("\nException raised from")[0].strip()) from None
    converted = torch.jit.load(io.BytesIO(out.numpy().tobytes()))
    rows = [o.split("\t") for o in ops]
    report = ConversionReport([ConvertedOp(r[0], r[1], r[2], r[3], r[4] == "1", r[5]) for r in rows], table)
    return converted, report


from . import hwa  # noqa: E402,F401  (needs convert and load above)
