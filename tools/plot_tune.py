#!/usr/bin/python3
"""Draws DIR/pareto.png from DIR/pareto.csv (xbar tune): task metric versus the tuning objective for the
base policy, every uniform setting and the tuned schedule at each budget, with the Pareto front
(no other point both cheaper and at least as good) marked. A model tuned per phase (prefill and decode)
gets one panel per phase. Usage: plot_tune.py DIR"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def front(points, higher_better):
    """Points not dominated: sorted by cost, kept when better than every cheaper one."""
    best, out = None, []
    for p in sorted(points, key=lambda p: (p[0], -p[1] if higher_better else p[1])):
        if best is None or (p[1] > best if higher_better else p[1] < best):
            out.append(p)
            best = p[1]
    return out


def panel(ax, rows, column, higher_better, ylabel):
    """One metric column of pareto.csv against the objective, with its Pareto front."""
    styles = {"uniform": ("o", "tab:gray", "uniform settings"), "tuned": ("*", "tab:red", "tuned schedules"),
              "base": ("s", "tab:blue", "base policy")}
    pts = []
    for kind, (marker, color, label) in styles.items():
        sel = [r for r in rows if r["kind"] == kind]
        xs = [float(r["objective"]) for r in sel]
        ys = [float(r[column]) for r in sel]
        ax.scatter(xs, ys, marker=marker, color=color, label=label, s=60 if kind == "tuned" else 25, zorder=3)
        for r, x, y in zip(sel, xs, ys):
            pts.append((x, y))
            if kind == "tuned":
                ax.annotate(r["label"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    f = front(pts, higher_better)
    ax.plot([p[0] for p in f], [p[1] for p in f], "--", color="black", lw=1, label="Pareto front", zorder=2)
    name = rows[0]["objective_name"]
    ax.set_xlabel(name.replace("_pJ", " (pJ per inference)").replace("_ns", " (ns per inference)"))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def main():
    d = sys.argv[1]
    rows = list(csv.DictReader(open(d + "/pareto.csv")))
    base = [r for r in rows if r["kind"] == "base"][0]
    higher_better = rows[0].get("metric_name", "metric") != "bits_per_char"
    where = rows[0].get("metric_name", "metric").replace("_", " ") + "\n(held-out training data, mean over search chips)"
    if base.get("decode_metric"):
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        panel(axes[0], rows, "metric", higher_better, "prefill " + where)
        panel(axes[1], rows, "decode_metric", higher_better, "decode " + where)
    else:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        panel(ax, rows, "metric", higher_better, where)
    fig.tight_layout()
    fig.savefig(d + "/pareto.png", dpi=120)


if __name__ == "__main__":
    main()
