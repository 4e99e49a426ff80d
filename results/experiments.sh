#!/usr/bin/env bash
# Every run behind the README, in order; each copies its metrics into results/ (checkpoints other than
# the committed pair stay in runs/, which git ignores). Takes about 1.5 hours on 2 CPU cores.
# Usage: bash results/experiments.sh [STEP...]   (steps: default reference rnn256 gru small baseline reading
# samples bench cells scale scale-rerun peer; scale, the grid by size and data, takes hours:
# python -m results.scale --help; peer needs a nanoGPT checkout: python -m results.peer --help)
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

rnn256_best() {  # the rnn256 trial (lrX-epY) with the lowest dev-plays loss
  python -c 'import glob, json, os
dev = lambda p: json.load(open(p))["models"]["rnn"]["evaluation"]["dev_loss"]
print(os.path.basename(min(glob.glob("results/runs/rnn256-*-seed0.json"), key=dev))[7:-11])'
}

gru_best() {  # the GRU recipe trial with the lowest dev-plays loss
  python -c 'import glob, json, os
dev = lambda p: json.load(open(p))["models"]["gru"]["evaluation"]["dev_loss"]
print(os.path.basename(min(glob.glob("results/runs/gru-recipe-*-seed0.json"), key=dev))[11:-11])'
}

steps=("$@"); [ $# -gt 0 ] || steps=(default reference rnn256 gru small baseline reading samples bench cells scale)
for step in "${steps[@]}"; do
  case $step in
    default)  # seed 0 is the committed run: the one step that writes checkpoints/ and figures/
      python main.py --data "$DATA" $UNSEEN --out-dir checkpoints --figures-dir figures
      cp checkpoints/metrics.json results/runs/default-seed0.json
      for seed in 1 2; do run default "$seed"; done ;;
    reference) for seed in 0 1 2; do run reference "$seed" --preset reference; done ;;
    rnn256)  # the RNN at the LSTM's budget (hidden 256: 558,142 parameters); lr and epochs on the dev plays
      for trial in "4e-3 14" "2e-3 14" "2e-3 20"; do
        set -- $trial; run "rnn256-lr$1-ep$2" 0 --models rnn --hidden-size 256 --lr "$1" --epochs "$2"
      done
      best=$(rnn256_best); lr=${best%-ep*}; lr=${lr#lr}; epochs=${best#*-ep}
      for seed in 1 2; do run "rnn256-$best" "$seed" --models rnn --hidden-size 256 --lr "$lr" --epochs "$epochs"; done ;;
    gru)  # the GRU's recipe, on the dev plays: the LSTM's, the LSTM's at PyTorch's init scale, the RNN's
      run gru-recipe-lstm 0 --models gru
      run gru-recipe-lstm-gain1 0 --models gru --init-gain 1
      run gru-recipe-rnn 0 --models gru --epochs 14 --batch-size 32 --lr 4e-3 --beta2 0.999 \
        --warmup-steps 200 --dropout 0 --init-gain 1
      echo "lowest dev-plays loss: $(gru_best) (trainer.RECIPES['default']['gru'] must be it)" ;;
    scale)  # the grid (resumable), then its 544K full-data runs read by position and adapting
      python -m results.scale --threads "${THREADS:-1}"
      python -m results.scale_reads ;;
    peer)  # against nanoGPT on its split, in its CPU command's wall time, then in 30 minutes of both
      # cores per model (two one-thread parts side by side, about 5 hours); NANOGPT=its checkout,
      # its data/shakespeare_char prepared from data/tinyshakespeare.txt (results/peer.py says how)
      python data/prepare.py --source tinyshakespeare-full
      python -m results.peer --nanogpt "${NANOGPT:?set NANOGPT to a nanoGPT checkout}"
      for part in 1/2 2/2; do
        OMP_NUM_THREADS=1 python -m results.peer --budget 30min --part $part &
      done
      wait ;;
    scale-rerun) python -m results.scale --rerun rnn-38K-f1-seed0 ;;  # one grid run trained again
    cells) python -m results.cells ;;  # inside the committed checkpoints: results/cells.json
    small)  # a text of 5,200 characters (the study's first): how many epochs a small text needs
      head -c 5200 "$DATA" > data/small.txt
      for epochs in 20 100 400; do
        python main.py --data data/small.txt --epochs "$epochs" --out-dir "runs/small-e$epochs"
        cp "runs/small-e$epochs/metrics.json" "results/runs/small-e$epochs-seed0.json"
      done ;;
    reading)  # every checkpoint and the 6-gram reading the unseen plays in order (results/reading/)
      for kind in rnn lstm; do
        python -m results.reading --checkpoints {checkpoints,runs/default-seed1,runs/default-seed2}/$kind.pt \
          --threads 1 --out results/reading/$kind.json
      done
      python -m results.reading --checkpoints runs/rnn256-"$(rnn256_best)"-seed[012]/rnn.pt --threads 1 \
        --out results/reading/rnn256.json ;;
    baseline)
      python baseline.py --data "$DATA" $UNSEEN --out results/baseline.json
      python baseline.py --data "$DATA" $UNSEEN --orders 6 --discounts 3 --mix checkpoints/rnn.pt checkpoints/lstm.pt \
        --out results/mixture.json
      python baseline.py --data "$DATA" $UNSEEN --orders 6 --context 60 --out results/baseline-context60.json ;;
    samples)
      python generate.py --temperature 0.7 1 4 --length 120 --seed 1 --output results/samples.json > /dev/null
      python -m results.temperature --data "$DATA" --seed 0
      python generate.py --prime "PROSPERO:" --length 300 --seed 1 --output results/sample-plain.json > /dev/null
      python generate.py --adapt data/shakespeare_test.txt --prime "PROSPERO:" --length 300 --seed 1 \
        --output results/sample-adapted.json > /dev/null ;;
    bench) python bench.py --data "$DATA" --seeds 0 1 2 ;;
  esac
done
python -m results.render
