#!/usr/bin/env bash
# The tuning sweep behind the default recipe: every run trains on the reference file (seed 0 unless its
# name says otherwise) and is judged by best validation loss (same split, same 30-character zero-state
# protocol), the runs named -dev- also by their score on the dev plays. Every setting is spelled out,
# so a run means the same whatever main.py's defaults are. The dev-play runs of embedding and output
# dropout and of input noise, which did not help, are recorded in results/sweep/; their flags are gone
# from main.py (git history has them).
# Usage: bash results/sweep.sh NAME...   (each NAME below; metrics land in results/sweep/NAME.json)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/shakespeare_train.txt}  # python data/prepare.py --source tinyshakespeare
DEV="--dev ${DEV_FILE:-data/shakespeare_dev.txt}"  # the runs named -dev- are chosen on the dev plays
declare -A RUNS=(
  [lstm-lr3e-3]="--models lstm --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 40 --lr 3e-3 --batch-size 64 --dropout 0 --no-shift --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [lstm-lr3e-3-shift]="--models lstm --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 40 --lr 3e-3 --shift --batch-size 64 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [lstm-e30-lr3e-3-shift]="--models lstm --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 30 --lr 3e-3 --shift --batch-size 64 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [lstm-e30-lr3e-3-shift-drop0.1]="--models lstm --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 30 --lr 3e-3 --shift --dropout 0.1 --batch-size 64 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [lstm-e30-lr5e-3-shift]="--models lstm --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 30 --lr 5e-3 --shift --batch-size 64 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [rnn-e30-lr3e-3]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 30 --lr 3e-3 --batch-size 64 --dropout 0 --no-shift --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [rnn-e30-lr3e-3-shift]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 30 --lr 3e-3 --shift --batch-size 64 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [rnn-e30-lr2e-3-shift-drop0.1]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 30 --lr 2e-3 --shift --dropout 0.1 --batch-size 64 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [rnn-e20-lr3e-3-shift]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 20 --lr 3e-3 --shift --batch-size 64 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [rnn-e15-lr3e-3-shift]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 15 --lr 3e-3 --shift --batch-size 64 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [rnn-e20-bs32-lr3e-3-shift]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 20 --lr 3e-3 --shift --batch-size 32 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [rnn-e12-bs32-lr3e-3-shift]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 12 --lr 3e-3 --shift --batch-size 32 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [rnn-e20-bs16-lr3e-3-shift]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 20 --lr 3e-3 --shift --batch-size 16 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [rnn-e12-bs16-lr3e-3-shift]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 12 --lr 3e-3 --shift --batch-size 16 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [lstm-e32-bs32-lr3e-3-shift-drop0.1-seed1]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 32 --lr 3e-3 --shift --batch-size 32 --dropout 0.1 --seed 1 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [lstm-e20-bs16-lr3e-3-shift-drop0.1]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 20 --lr 3e-3 --shift --batch-size 16 --dropout 0.1 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [lstm-e32-bs16-lr3e-3-shift-drop0.1]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 32 --lr 3e-3 --shift --batch-size 16 --dropout 0.1 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [rnn-e12-bs8-lr3e-3-shift]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 12 --lr 3e-3 --shift --batch-size 8 --dropout 0 --beta2 0.999 --ema 0 --init-gain 1 --weight-decay 0"
  [lstm-e32-bs16-lr3e-3-b0.99-shift-drop0.1]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 32 --lr 3e-3 --beta2 0.99 --shift --batch-size 16 --dropout 0.1 --ema 0 --init-gain 1 --weight-decay 0"
  [lstm-e32-bs16-lr3e-3-b0.95-shift-drop0.1]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 32 --lr 3e-3 --beta2 0.95 --shift --batch-size 16 --dropout 0.1 --ema 0 --init-gain 1 --weight-decay 0"
  [lstm-e32-bs16-lr3e-3-b0.99-shift-drop0.1-ema0.99]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 32 --lr 3e-3 --beta2 0.99 --shift --batch-size 16 --dropout 0.1 --ema 0.99 --init-gain 1 --weight-decay 0"
  [lstm-e32-bs16-lr5e-3-b0.99-shift-drop0.1-ema0.99]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 32 --lr 5e-3 --beta2 0.99 --shift --batch-size 16 --dropout 0.1 --ema 0.99 --init-gain 1 --weight-decay 0"
  [rnn-e12-bs16-lr3e-3-shift-ema0.99]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 12 --lr 3e-3 --beta2 0.999 --shift --batch-size 16 --dropout 0 --ema 0.99 --init-gain 1 --weight-decay 0"
  [rnn-e16-bs32-lr3e-3-shift-ema0.99]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 16 --lr 3e-3 --beta2 0.999 --shift --batch-size 32 --dropout 0 --ema 0.99 --init-gain 1 --weight-decay 0"
  [rnn-e16-bs32-lr4e-3-shift-ema0.99]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 16 --lr 4e-3 --beta2 0.999 --shift --batch-size 32 --dropout 0 --ema 0.99 --init-gain 1 --weight-decay 0"
  [rnn-e14-bs32-lr4e-3-shift-ema0.99]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 14 --lr 4e-3 --beta2 0.999 --shift --batch-size 32 --dropout 0 --ema 0.99 --init-gain 1 --weight-decay 0"
  [lstm-e30-bs16-lr3e-3-b0.99-shift-drop0.1-ema0.99]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 30 --lr 3e-3 --beta2 0.99 --shift --batch-size 16 --dropout 0.1 --ema 0.99 --init-gain 1 --weight-decay 0"
  [lstm-e28-bs16-lr3e-3-b0.99-shift-drop0.1-ema0.99]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 28 --lr 3e-3 --beta2 0.99 --shift --batch-size 16 --dropout 0.1 --ema 0.99 --init-gain 1 --weight-decay 0"
  [lstm-e30-bs16-lr3e-3-b0.99-shift-drop0.1-ema0.99-gain3]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 30 --lr 3e-3 --beta2 0.99 --shift --batch-size 16 --dropout 0.1 --ema 0.99 --init-gain 3 --weight-decay 0"
  [lstm-e24-bs16-lr3e-3-b0.99-shift-drop0.1-ema0.99-gain3]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 24 --lr 3e-3 --beta2 0.99 --shift --batch-size 16 --dropout 0.1 --ema 0.99 --init-gain 3 --weight-decay 0"
  [lstm-e20-bs16-lr3e-3-b0.99-shift-drop0.1-ema0.99-gain3]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 20 --lr 3e-3 --beta2 0.99 --shift --batch-size 16 --dropout 0.1 --ema 0.99 --init-gain 3 --weight-decay 0"
  [rnn-e14-bs32-lr4e-3-shift-ema0.99-gain2]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 14 --lr 4e-3 --beta2 0.999 --shift --batch-size 32 --dropout 0 --ema 0.99 --init-gain 2 --weight-decay 0"
  [rnn-dev-wd0.1]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 14 --lr 4e-3 --beta2 0.999 --shift --batch-size 32 --ema 0.99 --init-gain 1 --dropout 0 --weight-decay 0.1 $DEV"
  [lstm-dev-drop0.3]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 24 --lr 3e-3 --beta2 0.99 --shift --batch-size 16 --ema 0.99 --init-gain 3 --dropout 0.3 --weight-decay 0 $DEV"
  [lstm-dev-wd0.1]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 24 --lr 3e-3 --beta2 0.99 --shift --batch-size 16 --ema 0.99 --init-gain 3 --dropout 0.1 --weight-decay 0.1 $DEV"
  [rnn-dev-wd0.3]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 14 --lr 4e-3 --beta2 0.999 --shift --batch-size 32 --ema 0.99 --init-gain 1 --dropout 0 --weight-decay 0.3 $DEV"
  [rnn-dev-wd1]="--models rnn --schedule cosine --warmup-steps 200 --grad-clip 1 --epochs 14 --lr 4e-3 --beta2 0.999 --shift --batch-size 32 --ema 0.99 --init-gain 1 --dropout 0 --weight-decay 1 $DEV"
  [lstm-dev-wd0.3]="--models lstm --schedule cosine --warmup-steps 100 --grad-clip 1 --epochs 24 --lr 3e-3 --beta2 0.99 --shift --batch-size 16 --ema 0.99 --init-gain 3 --dropout 0.1 --weight-decay 0.3 $DEV"
)
for name in "$@"; do
  python main.py --data "$DATA" ${RUNS[$name]} --out-dir "runs/sweep/$name" --figures-dir "runs/sweep/$name"
  mkdir -p results/sweep && cp "runs/sweep/$name/metrics.json" "results/sweep/$name.json"
done
