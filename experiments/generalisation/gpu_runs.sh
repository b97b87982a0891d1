#!/usr/bin/env bash
# Issue 10's GPU runs (sixth session): variants of `experiment=generalise_gpu` trained side by side on one GPU
# machine, each stopped with Ctrl-C (which saves last.pt) if it outlasts BUDGET seconds. Prepare here:
#   python experiments/generalisation/pack_frames.py experiment=generalise_long out=gpu_pack/data
#   mkdir -p gpu_pack/runs gpu_pack/site && cp -r .venv/lib/python3*/site-packages/{hydra,omegaconf,antlr4} gpu_pack/site/
#   git show 7745c87:heatmapnet/shipped/heatmapnet.pt > gpu_pack/runs/shipped_7745c87.pt
#   git show f6805a0:heatmapnet/shipped/heatmapnet.pt > gpu_pack/runs/shipped_before_issue10.pt
#   git show 2eb4c07:heatmapnet/shipped/heatmapnet.pt > gpu_pack/runs/shipped_2eb4c07.pt      # (skip* variants)
#   git show 1000813:heatmapnet/shipped/heatmapnet.pt > gpu_pack/runs/shipped_1000813.pt      # (cont, close*)
# then run it there with gpu_pack carried (its image has PyTorch but not Hydra). For benchmarks/bench_gpu.py there
# (track.py's imports), add the tracking packages built for the image's Python (3.12 in the ninth session):
#   pip download lap python-osc websockets --python-version 3.12 --only-binary=:all: --no-deps \
#     --platform manylinux2014_x86_64 -d wheels && for w in wheels/*.whl; do python -m zipfile -e $w gpu_pack/site/; done
# (the whole checkout plus gpu_pack must stay under 64 MiB: leave out the older start models and lap/tests).
#   BUDGET=470 bash experiments/generalisation/gpu_runs.sh                       # seed 0: three variants
#   BUDGET=265 VARIANTS="more rebalanced" EXTRA_OVERRIDES="seed=1 train.num_workers=7 train.epochs=45" \
#     SUFFIX=_seed1 bash experiments/generalisation/gpu_runs.sh                  # seed 1: two, 45 epochs
# (those seed-1 runs also held out other frames than seed 0's, see MODEL.md; `data.split.seed: 0` now fixes them).
#   BUDGET=420 VARIANTS="skip3_10_13 skip3_6_10_13 skip3_6_9_10_12_13" EXTRA_OVERRIDES="train.epochs=45" \
#     bash experiments/generalisation/gpu_runs.sh                                # issue 11's cheaper networks
#   BUDGET=480 VARIANTS="cont close close_seed1" EXTRA_OVERRIDES="train.epochs=50 train.num_workers=4" \
#     bash experiments/generalisation/gpu_runs.sh                                # twelfth session: from the shipped model
# Checkpoints come back as <variant><suffix>.last.pt (copied every 20 s, so a cut-off call still returns them)
# and .best.pt; logs and TensorBoard in logs<suffix>.tar.gz.
set -u
budget=${BUDGET:-480}
out=${OUT:-$PWD/runs/gpu_out}
suffix=${SUFFIX:-}
read -r -a names <<<"${VARIANTS:-more rebalanced from_before}"
read -r -a extra <<<"${EXTRA_OVERRIDES:-}"
mkdir -p "$out"
export HEATMAPNET_SHARED=$PWD/gpu_pack PYTHONPATH=$PWD/gpu_pack/site:$PWD PYTHONUNBUFFERED=1
runs=$PWD/gpu_pack/runs

same_mix="data.weight=3.0 data.mix.webcam10.weight=1.0 augment.scale=[0.4,1.4]"  # generalise_long's mix
overrides() {  # the settings that make each variant
  case $1 in
    rebalanced) ;;  # the config as it is: shipped
    more) echo "$same_mix" ;;  # generalise_long's recipe, 60 epochs
    from_before) echo "$same_mix init=$runs/shipped_before_issue10.pt" ;;  # the same, from the model before issue 10
    cont) echo "init=$runs/shipped_1000813.pt train.lr=0.0002" ;;  # the model shipped in 1000813, trained longer
    close) echo "$(overrides cont) data.mix.webcam10.weight=3.0 augment.scale=[0.5,1.8]" ;;  # more large close hands
    *_seed[0-9]) echo "$(overrides "${1%_seed*}") seed=${1##*_seed}" ;;  # another training seed (same held-out frames)
    skip*) blocks=${1#skip}  # issue 11's cheaper networks, e.g. skip3_10_13: this recipe from 2eb4c07's model
      echo "init=$runs/shipped_2eb4c07.pt model.skip_blocks=[${blocks//_/,}]" ;;  # with those blocks left out
    *) echo "unknown variant $1" >&2; exit 2 ;;
  esac
}

collect() {  # copy each run's checkpoints to $out (through a temporary name: a copy is never seen half-written)
  for name in "${names[@]}"; do
    for kind in last best; do
      local from="$runs/$name$suffix/checkpoints/$kind.pt" to="$out/$name$suffix.$kind.pt"
      [ -f "$from" ] && cp "$from" "$to.tmp" && mv "$to.tmp" "$to"
    done
  done
}

pids=()
for name in "${names[@]}"; do
  read -r -a own <<<"$(overrides "$name")"
  (timeout -s INT "$budget" "${PYTHON:-python3}" train.py experiment=generalise_gpu paths.runs="$runs" \
     out_dir="$runs/$name$suffix" "${own[@]}" "${extra[@]}" >"$runs/$name$suffix.log" 2>&1
   echo "$name$suffix: exit status $?") &
  pids+=($!)
done
# One look at the GPU's load, and the checkpoint copier: both write to files, not to this script's output, so
# their leftover `sleep`s cannot hold the call open after the runs end.
(sleep 90 && nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv && uptime) >"$runs/probe.txt" 2>&1 &
(while sleep 20; do collect; done) >/dev/null 2>&1 &
watcher=$!
wait "${pids[@]}"
kill "$watcher"; collect
cat "$runs/probe.txt" 2>/dev/null

logs=()
for name in "${names[@]}"; do
  echo "== $name$suffix"; tr "\r" "\n" <"$runs/$name$suffix.log" | grep -a -v -E "[0-9]+/[0-9]+ \[" | tail -n 30
  logs+=("$name$suffix" "$name$suffix.log")
done
tar -czf "$out/logs$suffix.tar.gz" -C "$runs" --exclude='*.pt' "${logs[@]}"
ls -la "$out"
