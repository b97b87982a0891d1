#!/usr/bin/env bash
# Issue 10's GPU runs (sixth session): three variants of `experiment=generalise_gpu` trained side by side on one
# GPU machine, each stopped with Ctrl-C (which saves last.pt) if it outlasts BUDGET seconds. Prepare here:
#   python experiments/generalisation/pack_frames.py experiment=generalise_long out=gpu_pack/data
#   mkdir -p gpu_pack/runs gpu_pack/site && cp -r .venv/lib/python3*/site-packages/{hydra,omegaconf,antlr4} gpu_pack/site/
#   git show 7745c87:heatmapnet/shipped/heatmapnet.pt > gpu_pack/runs/shipped_7745c87.pt
#   git show f6805a0:heatmapnet/shipped/heatmapnet.pt > gpu_pack/runs/shipped_before_issue10.pt
# then run `bash experiments/generalisation/gpu_runs.sh` there with gpu_pack carried (its image has PyTorch but
# not Hydra). Checkpoints come back as <variant>.last.pt / <variant>.best.pt, logs and TensorBoard in logs.tar.gz.
set -u
budget=${BUDGET:-480}
out=${OUT:-$PWD/runs/gpu_out}
mkdir -p "$out"
export HEATMAPNET_SHARED=$PWD/gpu_pack PYTHONPATH=$PWD/gpu_pack/site:$PWD PYTHONUNBUFFERED=1
runs=$PWD/gpu_pack/runs

variant() {  # NAME [overrides...]
  local name=$1; shift
  timeout -s INT "$budget" "${PYTHON:-python3}" train.py experiment=generalise_gpu paths.runs="$runs" \
    out_dir="$runs/$name" "$@" "${EXTRA[@]}" >"$runs/$name.log" 2>&1
  echo "$name: exit status $?"
}
read -r -a EXTRA <<<"${EXTRA_OVERRIDES:-}"

variant more &                                   # the same recipe, 60 epochs
variant rebalanced data.weight=4.5 data.mix.webcam10.weight=1.5 'augment.scale=[0.5,1.4]' &  # the sets it lost
variant from_before init="$runs/shipped_before_issue10.pt" &  # the same, from the model before issue 10
(sleep 90 && nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv && uptime) &
wait

for name in more rebalanced from_before; do
  echo "== $name"; tr "\r" "\n" <"$runs/$name.log" | grep -a -v -E "[0-9]+/[0-9]+ \[" | tail -n 30
  for kind in last best; do
    [ -f "$runs/$name/checkpoints/$kind.pt" ] && cp "$runs/$name/checkpoints/$kind.pt" "$out/$name.$kind.pt"
  done
done
tar -czf "$out/logs.tar.gz" -C "$runs" --exclude='*.pt' more rebalanced from_before more.log rebalanced.log from_before.log
ls -la "$out"
