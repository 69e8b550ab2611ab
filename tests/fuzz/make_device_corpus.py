#!/usr/bin/python3
"""Regenerates the seed corpus of fuzz_device_file (tests/fuzz/corpus/device_file/) with h5py:
the shipped ideal device file and small valid and near-valid variants of it (each breaks one rule
of the schema in data/devices/README.md), a truncated copy and a non-HDF5 file.
Variants keep the format of xbar's writer (libver latest: checksummed object headers; strings as
fixed-length attributes), so mutations explore xbar's validator rather than HDF5 1.10's unchecked
global heap (variable-length strings), whose corruption hangs HDF5 itself (hdf5_known/README.md).
Usage: /usr/bin/python3 tests/fuzz/make_device_corpus.py  (from the repository root)"""
import os
import shutil

import h5py
import numpy as np

SRC = "data/devices/ideal.h5"
OUT = "tests/fuzz/corpus/device_file"


def variant(name, edit):
    path = os.path.join(OUT, name)
    shutil.copy(SRC, path)
    with h5py.File(path, "r+", libver="latest") as f:
        edit(f)


def replace(f, name, data, units="uS"):
    del f[name]
    f[name] = data
    f[name].attrs["units"] = np.bytes_(units)


def samples(f):
    g = np.array([0.0, 10.0, 25.0])
    replace(f, "programming/g_target_uS", g)
    replace(f, "programming/sigma_uS", np.array([0.1, 0.5, 0.4]))
    f["programming/samples_uS"] = g[:, None] + np.linspace(-1, 1, 5)[None, :]
    f["programming/samples_uS"].attrs["units"] = np.bytes_("uS")
    f["conductance/levels_uS"] = g
    f["conductance/levels_uS"].attrs["units"] = np.bytes_("uS")


os.makedirs(OUT, exist_ok=True)
shutil.copy(SRC, os.path.join(OUT, "ideal.h5"))
variant("samples_levels.h5", samples)
variant("decreasing_grid.h5", lambda f: replace(f, "drift/g_uS", np.array([5.0, 1.0])))
variant("nan_sigma.h5", lambda f: replace(f, "read_noise/sigma_uS", np.array([np.nan, 0.1])))
variant("string_dataset.h5", lambda f: replace(f, "conductance/g_max_uS", np.bytes_("25")))
variant("rank2_grid.h5", lambda f: replace(f, "programming/g_target_uS", np.zeros((2, 2))))
variant("no_conductance.h5", lambda f: f.__delitem__("conductance"))
variant("bad_schema.h5", lambda f: f.attrs.__setitem__("schema_version", 99))
variant("int_attr_units.h5", lambda f: f["drift/nu_mean"].attrs.__setitem__("units", 3))
with open(SRC, "rb") as f:
    data = f.read()
with open(os.path.join(OUT, "truncated.h5"), "wb") as f:
    f.write(data[: len(data) // 2])
with open(os.path.join(OUT, "not_hdf5.h5"), "wb") as f:
    f.write(b"xbar-device but not HDF5\n")
