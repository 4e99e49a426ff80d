#!/usr/bin/env bash
# The experiment on a GPU in one go, under 10 minutes on one card: the default recipe's seed-0 run on the
# study's file, a run interrupted after its first epoch and resumed, sampling, and bench.py, all on CUDA;
# then one summary line. Its logic runs on the CPU in seconds with --device cpu --quick (the tests do).
#
#   bash results/gpu.sh        # -> results/runs/default-cuda-seed0.json, results/bench-cuda.json
#   bash results/gpu.sh --device cpu --quick --data FILE --out DIR
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEVICE=cuda QUICK=0 DATA=data/shakespeare_train.txt UNSEEN=data/shakespeare_unseen.txt OUT=results
while [ $# -gt 0 ]; do
  case $1 in
    --device) DEVICE=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;  # a tiny model for a few epochs, bench.py --quick
    --data) DATA=$2; shift 2 ;;
    --unseen) UNSEEN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "gpu.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -f "$DATA" ] || $PY data/prepare.py --source tinyshakespeare
SIZE=() EPOCHS=3 BENCH=()
if [ $QUICK = 1 ]; then SIZE=(--hidden-size 16 --num-layers 2 --threads 1 --epochs 2); EPOCHS=6; BENCH=(--quick); fi
WORK=runs/gpu-$DEVICE  # checkpoints of these runs (git-ignored); only the two JSON files go to $OUT
[ $QUICK = 1 ] && WORK=$OUT/work
rm -rf "$WORK" && mkdir -p "$WORK" "$OUT/runs"
ARGS=(--data "$DATA" --device "$DEVICE")
[ -f "$UNSEEN" ] && ARGS+=(--unseen "$UNSEEN")

echo "== default recipe, seed 0, on $DEVICE"
RUN=$WORK/default
$PY main.py "${ARGS[@]}" "${SIZE[@]}" --out-dir "$RUN" --figures-dir "$RUN"
cp "$RUN/metrics.json" "$OUT/runs/default-$DEVICE-seed0.json"

echo "== a run killed after its first epoch, then resumed"
RESUME=$WORK/resume
# main.py, killed with SIGKILL by itself the moment its first resume checkpoint is on disk: a fixed
# point of the run, so the outcome does not hang on how fast this machine is
KILLED='import os, runpy, signal, sys
import model
save = model.atomic_save
def save_then_die(obj, path):
    save(obj, path)
    if str(path).endswith("rnn.last.pt"):
        os.kill(os.getpid(), signal.SIGKILL)
model.atomic_save = save_then_die
sys.argv[0] = "main.py"
runpy.run_path("main.py", run_name="__main__")'
$PY -c "$KILLED" "${ARGS[@]}" "${SIZE[@]}" --models rnn --epochs $EPOCHS --out-dir "$RESUME" \
  --figures-dir "$RESUME" > "$WORK/killed.log" 2>&1 || true
if [ ! -f "$RESUME/rnn.last.pt" ] || [ -f "$RESUME/metrics.json" ]; then
  echo "gpu.sh: the run was not killed after its first epoch ($WORK/killed.log)" >&2; exit 1
fi
$PY main.py "${ARGS[@]}" "${SIZE[@]}" --models rnn --epochs $EPOCHS --out-dir "$RESUME" --figures-dir "$RESUME" \
  --resume | tee "$WORK/resumed.log"
grep -q "rnn: resuming after epoch" "$WORK/resumed.log"

echo "== sampling on $DEVICE"
$PY generate.py --device "$DEVICE" --checkpoint "$RUN/lstm.pt" --temperature 0.7 1 --length 200 \
  --output "$WORK/samples.json"

echo "== bench.py on $DEVICE"
$PY bench.py --device "$DEVICE" --data "$DATA" --out "$OUT/bench-$DEVICE.json" "${BENCH[@]}"

$PY - "$OUT" "$DEVICE" "$RESUME" $EPOCHS <<'EOF'
import json, sys
out, device, resume, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
run = json.load(open(f"{out}/runs/default-{device}-seed0.json"))
bench = json.load(open(f"{out}/bench-{device}.json"))
resumed = len(json.load(open(f"{resume}/metrics.json"))["models"]["rnn"]["history"])
assert resumed == epochs, f"the resumed run has {resumed} epochs, not {epochs}"
best = ", ".join(f"{k.upper()} {m['best']['val_loss']:.4f}" for k, m in run["models"].items())
machine = bench["machine"].get("gpu", bench["machine"]["cpu"])
print(f"gpu.sh: {device} ({machine}): default run {run['wall_s']:.0f} s, best val {best}; resumed to "
      f"epoch {resumed}; throughput vs reference "
      + ", ".join(f"{k.upper()} {v:.2f}x" for k, v in bench["throughput_ratio"].items()))
EOF
