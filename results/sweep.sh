#!/usr/bin/env bash
# The tuning sweep behind the default recipe: every run trains on the study's file (seed 0 unless its
# name says otherwise) and is judged by best validation loss (same split, same 30-character zero-state
# protocol), the runs named -dev- also by their score on the dev plays. Each run's flags, and the
# question it answered, are in results/sweep.json; every setting is spelled out, so a run means the
# same whatever main.py's defaults are.
# Usage: bash results/sweep.sh NAME...   (names in results/sweep.json; metrics land in results/sweep/)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/shakespeare_train.txt}  # python data/prepare.py --source tinyshakespeare
for name in "$@"; do
  flags=$(python -c 'import json, sys; f = json.load(open("results/sweep.json"))["runs"][sys.argv[1]]
sys.exit(f"{sys.argv[1]}: its flags were removed from main.py") if f is None else print(f)' "$name")
  python main.py --data "$DATA" $flags --out-dir "runs/sweep/$name" --figures-dir "runs/sweep/$name"
  mkdir -p results/sweep && cp "runs/sweep/$name/metrics.json" "results/sweep/$name.json"
done
