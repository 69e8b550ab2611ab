#!/usr/bin/python3
"""Plot an xbar study: metric versus one swept key, one line per combination of the other keys,
mean +- std over repeats as error bars, the float model as a dashed line; and the metric versus
energy per inference (mean over repeats per grid point, Pareto front marked) when the results
have cost columns. With --breakdown (a CSV of `xbar eval --cost-csv`), a stacked energy bar per layer.

usage: /usr/bin/python3 tools/plot_study.py results/default_study.h5 [--x adc.bits] [--out study.png]
       /usr/bin/python3 tools/plot_study.py --breakdown cost.csv [--out cost.png]
"""
import argparse
import collections
import csv

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


def pareto(points, higher_is_better):
    """Indices of the points no other point beats in both energy (lower) and metric."""
    front = []
    for i, (e, m) in enumerate(points):
        beaten = any(
            (e2 <= e and (m2 >= m if higher_is_better else m2 <= m)) and (e2, m2) != (e, m) for e2, m2 in points
        )
        if not beaten:
            front.append(i)
    return front


def plot_energy(metric, energy, vals, keys, name, model, out):
    """Metric versus energy per inference, one point per grid point (mean over repeats)."""
    by_point = collections.defaultdict(lambda: ([], []))
    for i in range(len(metric)):
        label = ", ".join(f"{k}={vals[k][i]}" for k in keys)
        by_point[label][0].append(energy[i])
        by_point[label][1].append(metric[i])
    labels = sorted(by_point)
    pts = [(float(np.mean(by_point[l][0])), float(np.mean(by_point[l][1]))) for l in labels]
    higher = not name.startswith("bits_per")
    front = sorted(pareto(pts, higher), key=lambda i: pts[i][0])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], color="C0", s=18, label="grid points (mean over chips)")
    ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "o-", color="C3", label="Pareto front")
    for i in front:
        ax.annotate(labels[i], pts[i], fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("energy per inference (pJ)")
    ax.set_ylabel(name.replace("_", " "))
    ax.set_title(f"{model}: {name.replace('_', ' ')} vs energy")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def plot_breakdown(path, out):
    """Stacked energy per layer from `xbar eval --cost-csv` (columns layer, energy_<component>_pJ...)."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    comps = [k for k in rows[0] if k.startswith("energy_") and k.endswith("_pJ") and k != "energy_pJ"]
    layer_names = [r["layer"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    bottom = np.zeros(len(rows))
    for c in comps:
        # one-time weight programming is not part of an inference (attention operand writes are)
        v = np.array([float(r[c]) if c != "energy_write_pJ" or float(r["writes_per_inference"]) else 0.0 for r in rows])
        if not v.any():
            continue
        ax.bar(layer_names, v, bottom=bottom, label=c[len("energy_"):-len("_pJ")])
        bottom += v
    ax.set_ylabel("energy per inference (pJ)")
    ax.set_title(f"energy by component per layer ({path})")
    ax.legend(fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="?", help="study results file (.h5 written by xbar sweep)")
    ap.add_argument("--breakdown", help="per-layer cost CSV of `xbar eval --cost-csv`: stacked energy bars")
    ap.add_argument("--x", help="swept key for the x axis (default: the key with the most numeric values)")
    ap.add_argument("--out", help="PNG file (default: results file with .png)")
    a = ap.parse_args()
    if a.breakdown:
        plot_breakdown(a.breakdown, a.out or a.breakdown.rsplit(".", 1)[0] + ".png")
        return
    if not a.results:
        ap.error("give a results file or --breakdown")
    with h5py.File(a.results, "r") as f:
        metric = f["metric"][()]
        energy = f["energy_pJ"][()] if "energy_pJ" in f else None
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
    if energy is not None and energy.any():
        plot_energy(metric, energy, vals, keys, name, model, out.rsplit(".", 1)[0] + "_energy.png")


if __name__ == "__main__":
    main()
