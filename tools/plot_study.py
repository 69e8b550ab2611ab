#!/usr/bin/python3
"""Plot an xbar study: metric versus one swept key, one line per combination of the other keys,
mean +- std over repeats as error bars, the float model as a dashed line.

usage: /usr/bin/python3 tools/plot_study.py results/default_study.h5 [--x adc.bits] [--out study.png]
"""
import argparse
import collections

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def as_number(v):
    try:
        return float(v)
    except ValueError:
        return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="study results file (.h5 written by xbar sweep)")
    ap.add_argument("--x", help="swept key for the x axis (default: the key with the most numeric values)")
    ap.add_argument("--out", help="PNG file (default: results file with .png)")
    a = ap.parse_args()
    with h5py.File(a.results, "r") as f:
        metric = f["metric"][()]
        keys = list(f["grid"].keys())
        vals = {k: [v.decode() if isinstance(v, bytes) else str(v) for v in f["grid"][k][()]] for k in keys}
        float_metric = float(f.attrs["float_metric"])
        name = f.attrs["metric"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        model = f.attrs["model"]
        model = model.decode() if isinstance(model, bytes) else str(model)
    if not keys:
        raise SystemExit("the study has no grid keys to plot against")
    x = a.x
    if x is None:
        numeric = [k for k in keys if all(isinstance(as_number(v), float) for v in vals[k])]
        x = max(numeric or keys, key=lambda k: len(set(vals[k])))
    if x not in keys:
        raise SystemExit(f"--x {x}: not a swept key (swept: {', '.join(keys)})")
    others = [k for k in keys if k != x]
    groups = collections.defaultdict(lambda: collections.defaultdict(list))
    for i, m in enumerate(metric):
        label = ", ".join(f"{k}={vals[k][i]}" for k in others) or name
        groups[label][as_number(vals[x][i])].append(m)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, pts in sorted(groups.items()):
        xs = sorted(pts)
        mean = [np.mean(pts[v]) for v in xs]
        std = [np.std(pts[v], ddof=1) if len(pts[v]) > 1 else 0.0 for v in xs]
        ax.errorbar(xs, mean, yerr=std, marker="o", capsize=3, label=label)
    ax.axhline(float_metric, color="k", linestyle="--", linewidth=1, label=f"float model ({float_metric:.2f})")
    ax.set_xlabel(x)
    ax.set_ylabel(name.replace("_", " "))
    ax.set_title(f"{model}: {name.replace('_', ' ')} vs {x} (mean +- std over chips)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = a.out or a.results.rsplit(".", 1)[0] + ".png"
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
