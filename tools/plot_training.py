#!/usr/bin/env python3
"""Training curve of `xbar train --hwa`: loss per step and the per-epoch validation metric (float
and on the chip).

Usage: /usr/bin/python3 tools/plot_training.py OUT_DIR  -> OUT_DIR/training.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1].rstrip("/")
    steps = read(out + "/train_log.csv")
    epochs = read(out + "/epochs.csv")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    s = [int(r["step"]) for r in steps]
    loss = [float(r["loss"]) for r in steps]
    k = max(1, len(loss) // 100)  # running mean over ~1% of the run
    smooth = [sum(loss[max(0, i - k + 1):i + 1]) / len(loss[max(0, i - k + 1):i + 1]) for i in range(len(loss))]
    a.plot(s, loss, color="0.8", lw=0.5, label="step")
    a.plot(s, smooth, color="C0", label=f"mean of {k} steps")
    a.set_xlabel("step")
    a.set_ylabel("cross-entropy (noisy chip per step; text: bit/char)")
    a.legend()
    e = [int(r["epoch"]) for r in epochs]
    # Columns valid_float_<metric>, valid_chip_<metric>, valid_chip_<metric>_std (apps/hwa.cpp).
    metric = next(k for k in epochs[0] if k.startswith("valid_float_"))[len("valid_float_"):] if epochs else "metric"
    b.plot(e, [float(r["valid_float_" + metric]) for r in epochs], "o-", label="weights read exactly")
    ca = [float(r["valid_chip_" + metric]) for r in epochs]
    cs = [float(r["valid_chip_" + metric + "_std"]) for r in epochs]
    b.errorbar(e, ca, yerr=cs, fmt="s-", capsize=3, label="on the chip (mean +- std)")
    b.set_xlabel("epoch")
    b.set_ylabel("validation " + metric.replace("_", " ") + " (held-out training data)")
    b.legend()
    fig.suptitle("xbar train --hwa: " + out)
    fig.tight_layout()
    fig.savefig(out + "/training.png", dpi=120)


if __name__ == "__main__":
    main()
