#!/usr/bin/env python3
"""Writes the synthetic, measurement-like RRAM CSVs that data/devices/rram_measured.h5 is imported
from. Seeded (numpy default_rng(20220817)), so the files are reproducible. Numbers are NOT
measurements: they are drawn from stated published parameters so the import path can be shown
on realistic-looking data:

* programming (raw CSV, target_uS,measured_uS): 8 levels equally spaced over 2.5 .. 40 uS
  (Wan et al., Nature 2022, NeuRRAM: g_max ~40 uS, programming sigma ~1 .. 2.4 uS over the range).
  sigma(G) = 1 + 5.6 x (1 - x) uS with x = G / 40 uS (1 uS at the ends, 2.4 uS mid-range). The
  error is a Gaussian core plus, for 20 % of devices, a relaxation tail toward mid-range
  (exponential, scale 0.8 sigma), so the distributions are skewed as in write-verify data.
  Each level keeps 940 .. 1000 devices (the rest "failed verify"), so counts differ.
* read noise (read CSV, g_uS,read_uS): 48 devices over 2 .. 40 uS, 100 reads each, sigma = 1 % of
  G (a common assumption in RRAM simulation studies) plus a 0.02 uS instrument floor.
* drift / relaxation (drift CSV, g0_uS,t_s,g_uS): 240 devices over 2.5 .. 40 uS read at
  t = 0, 10, 100, 1e3, 1e4 s; nu ~ N(0.012 - 0.0002 G, 0.004) (illustrative small relaxation,
  not taken from a specific paper), read noise of 0.3 % per read, t0 = 20 s.
Usage: /usr/bin/python3 tools/make_measured_csv.py OUT_DIR
"""
import os
import sys

import numpy as np


def main(out_dir):
    rng = np.random.default_rng(20220817)
    g_max = 40.0

    def sigma(g):
        x = np.clip(g / g_max, 0, 1)
        return 1.0 + 5.6 * x * (1 - x)

    # --- raw programming data ---
    levels = np.linspace(2.5, 40.0, 8)
    rows = []
    for g in levels:
        n = int(rng.integers(940, 1001))
        s = sigma(g)
        dev = s * rng.standard_normal(n)
        tail = rng.random(n) < 0.2
        toward_mid = -np.sign(g - g_max / 2) if g != g_max / 2 else 0.0
        dev[tail] += toward_mid * rng.exponential(0.8 * s, tail.sum())
        meas = np.maximum(g + dev, 0.05)
        rows += [(g, m) for m in meas]
    with open(os.path.join(out_dir, "rram_measured_raw.csv"), "w") as f:
        f.write("# synthetic measurement-like RRAM programming data (tools/make_measured_csv.py, seed 20220817)\n")
        f.write("target_uS,measured_uS\n")
        for g, m in rows:
            f.write(f"{g:.4f},{m:.4f}\n")

    # --- repeated reads ---
    with open(os.path.join(out_dir, "rram_measured_read.csv"), "w") as f:
        f.write("# synthetic repeated reads, sigma = 1% of G + 0.02 uS (tools/make_measured_csv.py)\n")
        f.write("g_uS,read_uS\n")
        for g in np.linspace(2.0, 40.0, 48):
            g = round(float(g) + 0.01 * rng.standard_normal(), 4)
            reads = g + (0.01 * g + 0.02) * rng.standard_normal(100)
            for r in reads:
                f.write(f"{g:.4f},{r:.5f}\n")

    # --- drift / relaxation ---
    with open(os.path.join(out_dir, "rram_measured_drift.csv"), "w") as f:
        f.write("# synthetic conductance relaxation, G(t) = g0 ((t + 20)/20)^-nu (tools/make_measured_csv.py)\n")
        f.write("g0_uS,t_s,g_uS\n")
        for k in range(240):
            g0 = round(float(rng.uniform(2.5, 40.0)), 5)
            nu = 0.012 - 0.0002 * g0 + 0.004 * rng.standard_normal()
            for t in (0.0, 10.0, 100.0, 1e3, 1e4):
                g = g0 * ((t + 20.0) / 20.0) ** (-nu) * (1 + 0.003 * rng.standard_normal())
                f.write(f"{g0:.5f},{t:g},{g:.5f}\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/devices")
