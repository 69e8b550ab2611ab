"""Converted depthwise-separable CNN (grouped convolutions) in evaluation: forward CPU time with
autograd on (outputs kept, as when logits are collected without torch.no_grad) side by side with
torch.no_grad. Under autograd a grouped conv's block-diagonal weight is a new tensor at every call;
a layer that recognises the unchanged values keeps its programmed chip, so the two times differ only
by autograd's bookkeeping. Usage: /usr/bin/python3 tools/bench_weight_cache.py (XBAR_TORCH_LIB:
the operator library, default build/libxbar_torch.so; set OMP_NUM_THREADS=1 for steady numbers)."""
import os
import sys
import time

import torch

SOURCE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(SOURCE, "python"))
import xbar  # noqa: E402

xbar.load(os.environ.get("XBAR_TORCH_LIB", os.path.join(SOURCE, "build", "libxbar_torch.so")))
torch.set_num_threads(1)


class Separable(torch.nn.Module):
    """3x3 stem, then two depthwise 3x3 + pointwise 1x1 blocks (128 and 256 channels)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = torch.nn.Conv2d(3, 128, 3, padding=1)
        blocks = []
        for c, out in ((128, 256), (256, 256)):
            blocks += [torch.nn.Conv2d(c, c, 3, padding=1, groups=c), torch.nn.ReLU(), torch.nn.Conv2d(c, out, 1),
                       torch.nn.ReLU()]
        self.body = torch.nn.Sequential(*blocks)

    def forward(self, x):
        return self.body(self.stem(x)).mean((2, 3))


def per_call_s(f, calls=5):
    kept = []
    t = time.process_time()
    for _ in range(calls):
        kept.append(f())
    return (time.process_time() - t) / calls


def main():
    m, _ = xbar.convert(torch.jit.script(Separable().eval()), os.path.join(SOURCE, "data", "policies", "pcm_adc6.toml"))
    x = torch.randn(1, 3, 8, 8)
    xbar.program(m, 0)
    xbar.calibrate(m, x)

    def nograd():
        with torch.no_grad():
            return m(x)

    def best(f, reps=15):
        f()
        return min(per_call_s(f) for _ in range(reps))

    g = best(lambda: m(x))
    n = best(nograd)
    print(f"bench weight_cache separable_cnn forward_ms no_grad {n * 1e3:.2f} autograd {g * 1e3:.2f} ratio {g / n:.2f}")


if __name__ == "__main__":
    main()
