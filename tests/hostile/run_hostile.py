"""Runs the xbar CLI against hostile inputs (tests/hostile/inputs/ plus HDF5 files generated here)
and checks that no run ends by a signal or hangs, that failures exit with 1 or 2 and one line on
stderr, and that every run that exits 0 wrote only finite numbers.

usage: run_hostile.py XBAR_BIN SOURCE_DIR      (registered with CTest, label `hostile`)
"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

try:
    import h5py
except ImportError:  # the HDF5 cases need h5py; the others still run
    h5py = None

TIMEOUT_S = 30


def h5(path, **datasets):
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f[k] = v


def make_h5_inputs(d, src):
    """HDF5 inputs: malformed mvm cases and device files with implausible values."""
    rng = np.random.default_rng(0)
    W, X = rng.standard_normal((4, 6)), rng.standard_normal((3, 6))
    cases = {
        "ok.h5": dict(W=W, X=X),
        "nan_w.h5": dict(W=np.where(W > 1, np.nan, W), X=X),
        "inf_x.h5": dict(W=W, X=np.full((3, 6), np.inf)),
        "huge_w.h5": dict(W=np.full((4, 6), 1e300), X=X),
        "near_float_max.h5": dict(W=np.full((4, 6), 3e37), X=np.full((3, 6), 3e37)),
        "tiny.h5": dict(W=np.full((4, 6), 1e-320), X=np.full((3, 6), 1e-320)),
        "x_empty_batch.h5": dict(W=W, X=np.zeros((0, 6))),
        "w_empty.h5": dict(W=np.zeros((0, 6)), X=X),
        "wrong_shape.h5": dict(W=W, X=rng.standard_normal((3, 5))),
        "rank3.h5": dict(W=rng.standard_normal((2, 4, 6)), X=X),
        "strings.h5": dict(W=np.array([b"a", b"b"]), X=X),
        "ints.h5": dict(W=np.ones((4, 6), dtype=np.int64), X=np.ones((3, 6), dtype=np.int32)),
        "bias_wrong.h5": dict(W=W, X=X, bias=np.ones(7)),
        "no_x.h5": dict(W=W),
    }
    for name, ds in cases.items():
        h5(os.path.join(d, name), **ds)
    # A valid file cut in half.
    whole = open(os.path.join(d, "ok.h5"), "rb").read()
    open(os.path.join(d, "truncated.h5"), "wb").write(whole[: len(whole) // 2])
    # Device files: a valid one with one value made implausible.
    for name, (obj, value) in {
        "dev_sigma_1e300.h5": ("programming/sigma_uS", 1e300),
        "dev_gmax_1e308.h5": ("conductance/g_max_uS", 1e308),
        "dev_gmax_nan.h5": ("conductance/g_max_uS", np.nan),
    }.items():
        p = os.path.join(d, name)
        shutil.copy(os.path.join(src, "data/devices/rram.h5"), p)
        with h5py.File(p, "r+") as f:
            if obj not in f:
                continue
            units = f[obj].attrs.get("units")
            data = np.full(f[obj].shape, value, dtype=np.float64)
            del f[obj]
            f[obj] = data
            if units is not None:
                f[obj].attrs["units"] = units


def cases(d, src, inp):
    """(name, argv after xbar, output files to check when it exits 0)."""
    # "{out}": a fresh output path per case (the cases run in parallel).
    ok, out, model = os.path.join(d, "ok.h5"), "{out}", os.path.join(src, "data/models/cnn7k.pt")
    ideal = os.path.join(src, "data/policies/ideal.toml")
    cal = ["--set", "adc.range=calibrated", "--set", "adc.bits=6"]
    c = []
    # Configuration files and values.
    for f in ["malformed.toml", "unknown_key.toml", "wrong_type.toml", "huge_values.toml", "negative_counts.toml",
              "empty.toml", "binary_garbage.toml", "missing_device.toml"]:
        c.append(("config " + f, ["mvm", "--in", ok, "--out", out, "--config", os.path.join(inp, f)], [out]))
    for path in [d, "/dev/zero", "/nonexistent.toml"]:
        c.append(("config not a file " + path, ["mvm", "--in", ok, "--out", out, "--config", path], [out]))
    for kv in ["adc.bits=1e999", "adc.bits=-1", "adc.bits=", "=", "adc.bits=99999999999999999999",
               "run.t_inference_s=nan", "run.t_inference_s=-inf", "device.g_max_uS=1e308", "mapping.tile_rows=0"]:
        c.append(("--set " + kv, ["mvm", "--in", ok, "--out", out, "--set", kv], [out]))
    # mvm inputs.
    names = ["nan_w.h5", "inf_x.h5", "huge_w.h5", "near_float_max.h5", "tiny.h5", "x_empty_batch.h5", "w_empty.h5",
             "wrong_shape.h5", "rank3.h5", "strings.h5", "ints.h5", "bias_wrong.h5", "no_x.h5", "truncated.h5"]
    for n in names:
        c.append(("mvm " + n, ["mvm", "--in", os.path.join(d, n), "--out", out], [out]))
    # Calibrated ADC ranges for the inputs that reach the engine.
    for n in ["ok.h5", "near_float_max.h5", "tiny.h5", "x_empty_batch.h5", "ints.h5"]:
        c.append(("mvm calibrated " + n, ["mvm", "--in", os.path.join(d, n), "--out", out] + cal, [out]))
    for n in ["garbage.h5", "empty.h5"]:
        c.append(("mvm " + n, ["mvm", "--in", os.path.join(inp, n), "--out", out], [out]))
    c.append(("mvm calibrate empty", ["mvm", "--in", ok, "--out", out, "--calibrate", os.path.join(d, "x_empty_batch.h5")] + cal, [out]))
    c.append(("mvm in = out", ["mvm", "--in", ok, "--out", ok], []))
    c.append(("mvm out is a directory", ["mvm", "--in", ok, "--out", d], []))
    c.append(("mvm out in a missing directory", ["mvm", "--in", ok, "--out", "/nonexistent/dir/y.h5"], []))
    c.append(("mvm in is a directory", ["mvm", "--in", d, "--out", out], [out]))
    for r in ["-1", "0", "99999999999", "abc"]:
        c.append(("mvm --repeat " + r, ["mvm", "--in", ok, "--out", out, "--repeat", r], [out]))
    # Device files.
    for n in ["dev_sigma_1e300.h5", "dev_gmax_1e308.h5", "dev_gmax_nan.h5"]:
        p = os.path.join(d, n)
        c.append(("device validate " + n, ["device", "validate", p], []))
        c.append(("mvm with device " + n, ["mvm", "--in", ok, "--out", out, "--set", "device.model=file",
                                           "--set", "device.file=" + p], [out]))
    for n in ["garbage.h5", "empty.h5"]:
        c.append(("device validate " + n, ["device", "validate", os.path.join(inp, n)], []))
    for n in ["negative_conductance.csv", "implausible_units.csv", "nonfinite.csv", "header_only.csv"]:
        dev = "{out}"
        c.append(("device import " + n, ["device", "import", "-q", "--name", "x", "--source", "t", "--levels-csv",
                                         os.path.join(inp, n), "-o", dev], []))
    # Models.
    for n in ["garbage.pt", "empty.pt"]:
        c.append(("convert " + n, ["convert", os.path.join(inp, n), "--policy", ideal, "-o", os.path.join(d, "m.pt")], []))
    c.append(("convert model is a directory", ["convert", d, "--policy", ideal, "-o", os.path.join(d, "m.pt")], []))
    c.append(("convert policy is a directory", ["convert", model, "--policy", d, "-o", os.path.join(d, "m.pt")], []))
    c.append(("convert policy malformed", ["convert", model, "--policy", os.path.join(inp, "malformed.toml"),
                                           "-o", os.path.join(d, "m.pt")], []))
    c.append(("eval --samples -5", ["eval", "--model", model, "--samples", "-5", "--repeats", "1"], []))
    c.append(("eval --repeats 0", ["eval", "--model", model, "--samples", "10", "--repeats", "0"], []))
    c.append(("eval --repeats -3", ["eval", "--model", model, "--samples", "10", "--repeats", "-3"], []))
    c.append(("eval garbage model", ["eval", "--model", os.path.join(inp, "garbage.pt"), "--samples", "10"], []))
    c.append(("eval t-inference nan", ["eval", "--model", model, "--samples", "10", "--repeats", "1", "--t-inference", "nan"], []))
    # Studies.
    for n in ["study_missing_model.toml", "study_malformed.toml", "empty.toml", "binary_garbage.toml"]:
        c.append(("sweep " + n, ["sweep", os.path.join(inp, n)], []))
    c.append(("sweep a directory", ["sweep", d], []))
    c.append(("rerun garbage results", ["rerun", os.path.join(inp, "garbage.h5"), "--point", "0"], []))
    c.append(("merge garbage results", ["merge", os.path.join(d, "merged"), os.path.join(inp, "garbage.h5")], []))
    return c


def all_finite_h5(path):
    bad = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "fc" and not np.all(np.isfinite(obj[()])):
            bad.append(name)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return bad


def main():
    xbar, src = sys.argv[1], sys.argv[2]
    inp = os.path.join(src, "tests/hostile/inputs")
    d = tempfile.mkdtemp(prefix="xbar_hostile_")
    if h5py is not None:
        make_h5_inputs(d, src)
    else:
        print("h5py not available: HDF5-generated cases skipped")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("XBAR_DEBUG", None)
    todo = []
    for i, (name, args, outputs) in enumerate(cases(d, src, inp)):
        if h5py is None and any(a.startswith(d) and a.endswith(".h5") for a in args):
            continue
        out = os.path.join(d, f"out_{i}.h5")
        todo.append((name, [a.replace("{out}", out) for a in args], [o.replace("{out}", out) for o in outputs]))

    def run(case):
        name, args, outputs = case
        try:
            r = subprocess.run([xbar] + args, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired:
            return name, None, "", [f"{name}: no answer after {TIMEOUT_S} s"]
        code, err, problems = r.returncode, (r.stderr.strip() or r.stdout.strip()), []
        if code < 0 or code >= 128:
            problems.append(f"{name}: ended by signal {-code if code < 0 else code - 128}\n{err[-2000:]}")
        elif code == 0:
            for o in outputs:
                if h5py is not None and os.path.exists(o):
                    bad = all_finite_h5(o)
                    if bad:
                        problems.append(f"{name}: exit 0 with non-finite values in {o}: {bad}")
        elif code not in (1, 2):
            problems.append(f"{name}: exit code {code} (expected 0, 1 or 2)\n{err[-2000:]}")
        elif not err:
            problems.append(f"{name}: exit {code} without a message")
        elif "Exception raised from" in err or "frame #" in err:
            problems.append(f"{name}: C++ stack trace in the message\n{err[:2000]}")
        return name, code, err, problems

    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for name, code, err, problems in pool.map(run, todo):
            failures += problems
            last = err.splitlines()[-1][:150] if err else ""
            print(f"{'hang' if code is None else code:>4}  {name}: {last}")
    n = len(todo)
    shutil.rmtree(d, ignore_errors=True)
    print(f"\n{n} hostile runs, {len(failures)} failures")
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
