#!/usr/bin/env bash
# Every GPU measurement of issue 13 in one prepared run of at most ~9.5 minutes on one H100/H200:
#   1. throughput  (260 s): ViT-Tiny, StarNet-S3, TinyViT-5M x full SAIP / CSM-only at the paper's
#      shapes, batch 256, bf16: step-only and end to end (8 loader workers, JPEGs decoded from disk,
#      views made on the GPU), GFLOP per sample, MFU, and which of step and loader bounds the run;
#   2. data_views  (40 s): loader CPU ms per sample, PIL path vs device path, and the device
#      transform's GPU time per batch of 256;
#   3. peer_step   (60 s): the lightly DINO step vs saip's steps on the GPU, same shapes and batch 256,
#      alternating (skipped when lightly, the optional bench extra, is not installed);
#   4. compile     (110 s): the ViT-Tiny SAIP step compiled as train.compile=true does, step-only,
#      with the graphs traced in warm-up and any recompile after it counted;
#   5. cuda_graphs (100 s): the same with train.compile_mode=reduce-overhead (CUDA graphs).
# Each part has its own time limit (coreutils timeout), so a part that overruns loses only its own
# unfinished rows (throughput.py writes its JSON after every row). Results: one log and one JSON per
# part in the folder given as the first argument (default benchmarks/results/gpu).
#
#   bash benchmarks/gpu_measurements.sh OUT_DIR              # on the GPU machine
#   SMOKE=1 bash benchmarks/gpu_measurements.sh /tmp/smoke   # the same parts, tiny sizes, on the CPU
#                                                            # (compile traced with the eager backend)
#
# saip is imported from src/ when it is not installed (a machine with torch, timm and the rest but
# without this package); omegaconf (and lightly for part 3) must be importable.
set -uo pipefail
out=$(realpath -m "${1:-benchmarks/results/gpu}")
cd "$(dirname "$0")/.."
mkdir -p "$out"
py=${PYTHON:-python3}
log="$out/gpu_measurements.log"
export PYTHONUNBUFFERED=1
"$py" -c "import saip" 2>/dev/null || export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

if [[ ${SMOKE:-0} == 1 ]]; then
    dev=cpu batch=2 steps=1 warmup=1 workers=1 images=16 amp=auto rounds=1 backend=eager
else
    dev=cuda batch=256 steps=20 warmup=3 workers=8 images=2048 amp=bf16 rounds=3 backend=inductor
fi

part() {  # part NAME LIMIT_S COMMAND...: run with a time limit, output to the screen and the log
    local name=$1 limit=$2 start=$SECONDS
    shift 2
    echo "== $name (limit ${limit} s): $*" | tee -a "$log"
    timeout --kill-after=15 "$limit" "$@" 2>&1 | tee -a "$log"
    echo "== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s" | tee -a "$log"
}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
    "$py" -c "import torch; print('torch', torch.__version__, 'cuda available', torch.cuda.is_available())"
    echo "cpu cores: $(nproc)"
} 2>&1 | tee -a "$log"

part throughput 260 "$py" benchmarks/throughput.py --device "$dev" --batch "$batch" --steps "$steps" \
    --warmup "$warmup" --amp "$amp" --end-to-end --workers "$workers" --images "$images" \
    --out "$out/throughput-$dev.json"
part data_views 40 "$py" benchmarks/data_views.py --device "$dev" --batch "$batch" --samples "$batch" \
    --repeats 5 --out "$out/data_views-$dev.json"
if "$py" -c "import lightly" 2>/dev/null; then
    part peer_step 60 "$py" benchmarks/peer_step.py --device "$dev" --batch "$batch" --rounds "$rounds" \
        --steps 2 --out "$out/peer_step-$dev.json"
else
    echo "== peer_step: skipped (lightly is not installed: pip install -e '.[bench]')" | tee -a "$log"
fi
part compile 110 "$py" benchmarks/throughput.py --device "$dev" --backbones vit_tiny --presets saip \
    --batch "$batch" --steps "$steps" --warmup "$warmup" --amp "$amp" --compile --compile-backend "$backend" \
    --out "$out/throughput-$dev-compile.json"
part cuda_graphs 100 "$py" benchmarks/throughput.py --device "$dev" --backbones vit_tiny --presets saip \
    --batch "$batch" --steps "$steps" --warmup "$warmup" --amp "$amp" --compile --compile-backend "$backend" \
    --compile-mode reduce-overhead --out "$out/throughput-$dev-cuda-graphs.json"
echo "== done: results in $out" | tee -a "$log"
