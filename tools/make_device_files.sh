#!/usr/bin/env bash
# Regenerates the shipped device files in data/devices/ through `xbar device` itself:
#   pcm.h5, rram.h5, ideal.h5   tabulated from the parametric models (xbar device tabulate)
#   rram_measured.h5            imported (xbar device import) from the synthetic, seeded CSVs
#                               written by tools/make_measured_csv.py
# Usage: tools/make_device_files.sh [path/to/xbar]     (default: build/xbar)
set -euo pipefail
cd "$(dirname "$0")/.."
XBAR=$(realpath "${1:-build/xbar}")
OUT=data/devices
PY=/usr/bin/python3
mkdir -p "$OUT"

"$XBAR" device tabulate --model pcm --g-max 25 --out "$OUT/pcm.h5" | tee "$OUT/pcm_tabulate.txt"
"$XBAR" device tabulate --model rram --g-max 40 --out "$OUT/rram.h5" | tee "$OUT/rram_tabulate.txt"
"$XBAR" device tabulate --model ideal --g-max 25 --out "$OUT/ideal.h5"

"$PY" tools/make_measured_csv.py "$OUT"
# Run from inside the directory so the provenance records plain file names.
( cd "$OUT" && "$XBAR" device import --out rram_measured.h5 --name rram_measured --technology rram \
    --source "synthetic measurement-like CSVs from tools/make_measured_csv.py (seed 20220817), drawn from published parameters; not a real measurement" \
    --citation "W. Wan et al., Nature 608, 504 (2022) (programming sigma range); read noise 1% of G (common assumption)" \
    --raw-csv rram_measured_raw.csv --read-csv rram_measured_read.csv --drift-csv rram_measured_drift.csv \
    --units uS --g-min 0 --g-max 40 --t0 20 --read-bins 8 --drift-bins 8 ) | tee "$OUT/rram_measured_import.txt"

"$XBAR" device validate "$OUT"/*.h5
