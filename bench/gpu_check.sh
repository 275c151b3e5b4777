#!/usr/bin/env bash
# gpu_check.sh - the GPU backend's check on a real NVIDIA GPU, in one script.
#
# The GPU machine has no meson, libuv or cJSON, so everything is built here
# and packed; the script then runs the pack there:
#
#   here:  bench/gpu_check.sh pack [BUILD_DIR] [MODEL]      (default build-gpu,
#          plugins/models/effnet-b0-224; writes BUILD_DIR/gpucheck)
#   there: bench/gpu_check.sh run  [PACK_DIR [gpu-run options...]]
#          (default build-gpu/gpucheck; options after the folder override the
#          defaults below, e.g. for a dry run here against the emulated driver:
#          run build-gpu/gpucheck --batch 1,2 --check 2 --iters 2 --seconds 0.2
#          --driver-lib build-gpu/tests/gpu/libsbfakecuda-emu.so --nvml-lib <same>)
#          e.g. device run, carry ["build-gpu/gpucheck"], timeout_s 420:
#          bash bench/gpu_check.sh run build-gpu/gpucheck
#
# run: EfficientNet-B0 at 224, batch 1 and 256, on the GPU backend plugin
# through gpu-run (INT8 logits checked bit for bit against the CPU kernels,
# latency by CUDA events, energy per image from NVML with idle power apart),
# its fp32 path likewise (logits within one int8 step of the CPU's fp32
# path), then PyTorch (fp32, fp16) on the same GPU, with the ratios.
# The whole run is written as a recorded result, <date>-<gpu>.json, into $OUT
# (the device tool brings it back) or into results/reference/ when $OUT is
# unset. Copy it to results/reference/ and commit it (results/reference/README.md).
# Exit: 0 ok, 1 error, 2 INT8 logits differ from the CPU, 3 no usable GPU.
set -euo pipefail

die() { echo "gpu_check: $*" >&2; exit 1; }
# shellcheck source=bench/pack_libs.sh
. "$(dirname "$0")/pack_libs.sh"

# ------------------------------------------------------------------- pack
pack() {
    local build=${1:-build-gpu} model=${2:-plugins/models/effnet-b0-224}
    local dest=$build/gpucheck
    [ -x "$build/backends/gpu/gpu-run" ] || die "$build/backends/gpu/gpu-run missing: ninja -C $build first"
    local plugin=$build/backends/gpu/srambench-backend-gpu.so
    [ -f "$plugin" ] || die "$plugin missing"
    [ -f "$build/backends/gpu/sb_gpu_fatbin.c" ] ||
        die "$build was configured without nvcc: the plugin has no CUDA kernels"
    if [ -d "$model" ]; then model=$(ls "$model"/*.sbm 2>/dev/null | sort | head -n1); fi
    [ -f "$model" ] || die "no .sbm model at ${2:-plugins/models/effnet-b0-224}"
    rm -rf "$dest" && mkdir -p "$dest/lib"
    # Renamed: the framework loads every srambench-*.so under a build folder,
    # and must not find this copy instead of the one it built.
    cp "$plugin" "$dest/gpu-plugin.so"
    cp "$build/backends/gpu/gpu-run" bench/gpu_torch.py bench/gpu_record.py "$dest/"
    cp "$model" "$dest/model.sbm"
    pack_libs "$dest" "$dest/gpu-run" "$dest/gpu-plugin.so"
    {
        echo "commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo -dirty)"
        echo "packed=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "model=$model"
        echo "libs=$(ls "$dest/lib" | tr '\n' ' ')"
    } >"$dest/PACKED"
    du -sh "$dest" | awk '{print "gpu_check: packed " $1 " into '"$dest"'"}'
    cat "$dest/PACKED"
}

# -------------------------------------------------------------------- run
run() {
    local pack=${1:-build-gpu/gpucheck}
    shift || true
    [ -x "$pack/gpu-run" ] || die "$pack/gpu-run missing: run 'bench/gpu_check.sh pack' on the build machine"
    local out=${OUT:-results/reference}
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$out"
    # On the device machine the log comes back with the record.
    [ -n "${OUT:-}" ] && exec > >(tee "$OUT/gpu_check.log") 2>&1
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,power.draw,temperature.gpu \
        --format=csv || echo "gpu_check: no nvidia-smi"
    local rc=0 frc=0
    local common=(--plugin "$pack/gpu-plugin.so" --model "$pack/model.sbm" --batch 1,256 --check 8
                  --iters 50 --seconds 3 --idle-ms 1000)
    echo "== srambench GPU backend, INT8 path (bit-exact with the CPU)"
    LD_LIBRARY_PATH=$pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$pack/gpu-run" "${common[@]}" "$@" \
        --precision int8 --json "$work/srambench.json" || rc=$?
    [ "$rc" = 3 ] && exit 3
    [ -f "$work/srambench.json" ] || die "gpu-run failed (exit $rc)"
    echo "== srambench GPU backend, fp32 path"
    LD_LIBRARY_PATH=$pack/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$pack/gpu-run" "${common[@]}" "$@" \
        --precision fp32 --json "$work/srambench-fp32.json" || frc=$?
    [ "$frc" = 0 ] || echo "gpu_check: fp32 path exit $frc (2: logits more than one int8 step from the CPU's)"
    echo "== PyTorch on the same GPU"
    local trc=0
    PYTHONUNBUFFERED=1 python3 "$pack/gpu_torch.py" --batch 1,256 --iters 50 --seconds 3 \
        --json "$work/torch.json" || trc=$?
    [ "$trc" = 0 ] || echo "gpu_check: PyTorch side failed (exit $trc); recording without it"
    python3 "$pack/gpu_record.py" --int8 "$work/srambench.json" --fp32 "$work/srambench-fp32.json" \
        --torch "$work/torch.json" --packed "$pack/PACKED" --command "bench/gpu_check.sh run $pack $*" --out "$out"
    exit "$rc"
}

case "${1:-}" in
    pack) shift; pack "$@" ;;
    run) shift; run "$@" ;;
    *) echo "usage: $0 pack [BUILD_DIR] [MODEL] | run [PACK_DIR]" >&2; exit 1 ;;
esac
