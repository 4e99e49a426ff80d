#!/usr/bin/env bash
# Every run behind the README, in order; each copies its metrics into results/ (checkpoints other than
# the committed pair stay in runs/, which git ignores). Takes about 1.5 hours on 2 CPU cores.
# Usage: bash results/experiments.sh [STEP...]   (steps: default reference context baseline samples bench)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/shakespeare_train.txt}  # python data/prepare.py --source tinyshakespeare
UNSEEN="--unseen data/shakespeare_unseen.txt --dev data/shakespeare_dev.txt --test data/shakespeare_test.txt"
mkdir -p results/runs

run() {  # run NAME SEED FLAGS...: one main.py run into runs/NAME-seedSEED, metrics to results/runs/
  local name=$1 seed=$2; shift 2
  python main.py --data "$DATA" $UNSEEN --seed "$seed" "$@" --out-dir "runs/$name-seed$seed" --figures-dir "runs/$name-seed$seed"
  cp "runs/$name-seed$seed/metrics.json" "results/runs/$name-seed$seed.json"
}

steps=("$@"); [ $# -gt 0 ] || steps=(default reference context baseline samples bench)
for step in "${steps[@]}"; do
  case $step in
    default)  # seed 0 is the committed run: checkpoints/ and figures/
      python main.py --data "$DATA" $UNSEEN
      cp checkpoints/metrics.json results/runs/default-seed0.json
      for seed in 1 2; do run default "$seed"; done ;;
    reference) for seed in 0 1 2; do run reference "$seed" --preset reference; done ;;
    context) for seed in 0 1; do run context60 "$seed" --context 60; done ;;
    baseline)
      python baseline.py --data "$DATA" $UNSEEN --out results/baseline.json
      python baseline.py --data "$DATA" $UNSEEN --orders 6 --discounts 3 --mix checkpoints/rnn.pt checkpoints/lstm.pt \
        --out results/mixture.json
      python baseline.py --data "$DATA" $UNSEEN --orders 6 --context 60 --out results/baseline-context60.json ;;
    samples)
      python generate.py --temperature 0.7 1 4 --length 120 --seed 1 --output results/samples.json > /dev/null
      python results/temperature.py --data "$DATA" --seed 0 ;;
    bench) python bench.py --data "$DATA" --seeds 0 1 2 ;;
  esac
done
python results/render.py
