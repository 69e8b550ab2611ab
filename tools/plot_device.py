#!/usr/bin/env python3
"""Plots an xbar-device HDF5 file (schema: data/devices/README.md) to PNG with matplotlib (Agg):
programming and read-noise sigma(G), drift exponent nu(G) (mean +- std), read-noise sigma over
time, and the programmed-conductance histogram of each level (raw samples when the file has
them, otherwise Gaussian draws from the sigma table). Reads the file with h5py only.

Usage: /usr/bin/python3 tools/plot_device.py FILE.h5 [-o OUT.png] [--t 86400]
"""
import argparse
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def text(v):
    return v.decode() if isinstance(v, (bytes, np.bytes_)) else str(v)


def time_factor(attrs, t):
    model = text(attrs.get("time_model", "none"))
    t = np.asarray(t, dtype=float)
    if model == "pcm_1f":
        tr, tref = float(attrs["t_read_s"]), float(attrs["t_ref_s"])
        l = np.log((t + tr) / (2 * tr))
        return np.where(l > 0, np.sqrt(np.maximum(l, 0) / np.log((tref + tr) / (2 * tr))), 0.0)
    if model == "power":
        tr = float(attrs.get("t_read_s", 250e-9))
        return (np.maximum(t, tr) / float(attrs["t_ref_s"])) ** float(attrs["time_exponent"])
    return np.ones_like(t)


def label_axes(p, xlabel, ylabel, title=None, legend=False):
    """Axis labels, grid, and the title and legend when the panel has them."""
    if title:
        p.set_title(title)
    if legend:
        p.legend(fontsize=8)
    p.set_xlabel(xlabel)
    p.set_ylabel(ylabel)
    p.grid(alpha=0.3)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("-o", "--out", help="output PNG (default: FILE with .png)")
    ap.add_argument("--t", type=float, default=86400.0, help="time for the drifted read-noise curve [s] (default 86400)")
    ap.add_argument("--draws", type=int, default=4000, help="Gaussian draws per level when the file has no samples")
    a = ap.parse_args()
    out = a.out or (a.file.rsplit(".", 1)[0] + ".png")
    f = h5py.File(a.file, "r")
    if text(f.attrs.get("schema", "")) != "xbar-device":
        sys.exit(f"{a.file}: not an xbar-device file")
    gmin = float(f["conductance/g_min_uS"][()])
    gmax = float(f["conductance/g_max_uS"][()])
    g = np.linspace(gmin, gmax, 400)
    fig, ax = plt.subplots(2, 2, figsize=(11, 8))
    fig.suptitle(f"{text(f.attrs['name'])} ({text(f.attrs['technology'])}) - {a.file}", fontsize=10)

    # sigma(G)
    p = ax[0, 0]
    prog = f.get("programming")
    prog_sigma = None
    if prog is not None:
        gt = prog["g_target_uS"][:]
        if "sigma_uS" in prog:
            prog_sigma = prog["sigma_uS"][:]
        else:
            s = prog["samples_uS"][:]
            prog_sigma = s.std(axis=1, ddof=1)
        p.plot(g, np.interp(g, gt, prog_sigma), label="programming sigma")
        if "samples_uS" in prog:
            p.plot(gt, prog_sigma, "o", label="per-level (samples)")
    rn = f.get("read_noise")
    if rn is not None:
        tref = float(rn.attrs.get("t_ref_s", 1.0))
        p.plot(g, np.interp(g, rn["g_uS"][:], rn["sigma_uS"][:]), label=f"read sigma at t_ref = {tref:g} s")
    label_axes(p, "G [uS]", "sigma [uS]", "noise vs conductance", legend=True)

    # drift
    p = ax[0, 1]
    dr = f.get("drift")
    if dr is not None:
        gd, m, s = dr["g_uS"][:], dr["nu_mean"][:], dr["nu_std"][:]
        mm, ss = np.interp(g, gd, m), np.interp(g, gd, s)
        p.plot(g, mm, label="nu mean")
        p.fill_between(g, mm - ss, mm + ss, alpha=0.3, label="+- nu std")
        title = f"drift exponent, G(t) = G0 ((t + t0)/t0)^-nu, t0 = {float(dr.attrs['t0_s']):g} s"
        label_axes(p, "G [uS]", "nu", title, legend=True)
    else:
        label_axes(p, "G [uS]", "nu", "no drift data")

    # read noise over time
    p = ax[1, 0]
    if rn is not None:
        t = np.logspace(-6, 8, 300)
        fac = time_factor(rn.attrs, t)
        for gg in np.linspace(gmin, gmax, 5)[1:]:
            sr = np.interp(gg, rn["g_uS"][:], rn["sigma_uS"][:])
            scale = np.ones_like(t)
            if dr is not None and int(rn.attrs.get("scales_with_drift", 0)) == 1:
                t0 = float(dr.attrs["t0_s"])
                scale = ((t + t0) / t0) ** (-np.interp(gg, dr["g_uS"][:], dr["nu_mean"][:]))
            p.plot(t, sr * fac * scale / max(gg, 1e-12) * 100, label=f"G = {gg:.3g} uS")
        p.set_xscale("log")
        title = f"read noise vs time (time_model {text(rn.attrs.get('time_model', 'none'))})"
        label_axes(p, "t [s]", "read sigma / G_prog [%]", title, legend=True)
    else:
        label_axes(p, "t [s]", "read sigma / G_prog [%]", "no read-noise data")

    # level histograms
    p = ax[1, 1]
    rng = np.random.default_rng(0)
    if prog is not None and "samples_uS" in prog:
        for gt_l, s in zip(prog["g_target_uS"][:], prog["samples_uS"][:]):
            p.hist(s, bins=60, histtype="step", density=True)
            p.axvline(gt_l, color="k", lw=0.5, alpha=0.4)
        p.set_title("programmed G per level (raw samples)")
    else:
        levels = f["conductance/levels_uS"][:] if "levels_uS" in f["conductance"] else np.linspace(gmin, gmax, 8)
        for lv in levels:
            sig = float(np.interp(lv, prog["g_target_uS"][:], prog_sigma)) if prog_sigma is not None else 0.0
            draws = np.maximum(lv + sig * rng.standard_normal(a.draws), 0.0)
            draws = draws[draws > 0]  # the clamped mass at G = 0 would dwarf the rest
            if sig > 0 and draws.size:
                p.hist(draws, bins=60, histtype="step", density=True)
            p.axvline(lv, color="k", lw=0.5, alpha=0.4)
        p.set_title("programmed G per level (Gaussian from the sigma table; G=0 clamp not shown)", fontsize=9)
    label_axes(p, "G [uS]", "density")

    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
