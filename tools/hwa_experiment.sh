#!/usr/bin/env bash
# The README's noise-aware retraining table: float-trained vs HWA-retrained models on chips with a
# 6-bit ADC and 8-bit DAC, read at 1 s, 1 day and 1 year, with and without global drift
# compensation, 5 chips x 2000 test images; and learned against fixed input ranges (cnn_ranges).
# Run from the repository root after tools/build.sh. Writes results/hwa/<name>/ (training runs)
# and results/hwa/<name>_eval.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
X=${XBAR:-build/xbar}
export OMP_WAIT_POLICY=PASSIVE
mkdir -p results/hwa
run() {  # name model policy epochs [extra HWA options]
  local name=$1 model=$2 policy=$3 epochs=$4; shift 4
  $X train --hwa --model "$model" --policy "$policy" --out "results/hwa/$name" --epochs "$epochs" "$@"
  rm -f "results/hwa/${name}_eval.txt"
  for m in float hwa; do
    local mp=$model pp=$policy
    if [ $m = hwa ]; then mp=results/hwa/$name/model.pt pp=results/hwa/$name/policy.toml; fi
    echo "== $name $m" >> "results/hwa/${name}_eval.txt"
    $X eval --model "$mp" --policy "$pp" --t-inference 1s,1d,1y --drift-compensation none,global \
      --repeats 5 --samples 2000 >> "results/hwa/${name}_eval.txt"
  done
}
# ONLY=<name> runs one of them.
want() { [ "${ONLY:-all}" = all ] || [ "${ONLY}" = "$1" ]; }
if want cnn_pcm; then run cnn_pcm data/models/cnn.pt data/policies/pcm_adc6.toml 1 --t-train 86400 --fixed-ranges; fi
if want cnn7k_prop03; then run cnn7k_prop03 data/models/cnn7k.pt data/policies/prop03_adc6.toml 2 --fixed-ranges; fi
if want vit_pcm; then run vit_pcm data/models/vit.pt data/policies/pcm_adc6.toml 1 --t-train 86400 --fixed-ranges --max-examples 20000; fi
# Learned input ranges (a static DAC range per layer, trained) against the policy's per-vector
# absmax scaling: the CNN retrained 2 epochs each way, read at 1 s on 5 chips x 2000 test images.
if want cnn_ranges; then
  for r in learned fixed; do
    name=cnn_ranges_$r
    $X train --hwa --model data/models/cnn.pt --policy data/policies/pcm_adc6.toml --out "results/hwa/$name" \
      --epochs 2 $([ $r = fixed ] && echo --fixed-ranges)
    $X eval --model "results/hwa/$name/model.pt" --policy "results/hwa/$name/policy.toml" --repeats 5 --samples 2000 \
      > "results/hwa/${name}_eval.txt"
  done
fi
