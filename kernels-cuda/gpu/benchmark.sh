#!/usr/bin/env bash
# Runs, from a folder made by pack.sh, the GPU benchmarks side by side with PyTorch on the same GPU, and writes
# each one's table into RESULTS_DIR:
#   models.txt  GpuBenchmark: CLIP, U-Net steps, VAE decode, a whole txt2img, device memory (with --profile, op by op)
#   ops.txt     GpuOpBenchmark: the U-Net step's heaviest ops one by one
#   torch.txt   torch_side_by_side.py: the same ops and a whole SD 1.5 U-Net through PyTorch (skipped without it)
# The synthetic SD 1.5 weights (F16 files, 1.7 GB) are written into MODEL_DIR first unless it holds them.
# Extra arguments go to GpuBenchmark (--runs, --steps, --weights-dtype, --profile).
# Usage: ./benchmark.sh RESULTS_DIR MODEL_DIR [GpuBenchmark options]
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
results="${1:?usage: benchmark.sh RESULTS_DIR MODEL_DIR [options]}"
model="${2:?usage: benchmark.sh RESULTS_DIR MODEL_DIR [options]}"
shift 2
mkdir -p "$results"
source "$here/environment.sh"
classpath="$(ls "$here"/lib/*.jar | grep -v console-standalone | tr '\n' ':')"
launch() {
    "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp "$classpath" "$@"
}
if [ ! -f "$model/unet/diffusion_pytorch_model.safetensors" ]; then
    launch dev.jdiffusion.models.synthetic.SyntheticStableDiffusion "$model" 0 F16 || exit 1
fi
[ -d "$model/tokenizer" ] || [ ! -d "$here/fixtures/pipeline/tokenizer" ] || cp -r "$here/fixtures/pipeline/tokenizer" "$model/"
status=0
launch dev.jdiffusion.benchmarks.GpuBenchmark "$model" "$@" 2>&1 | tee "$results/models.txt" || status=1
launch dev.jdiffusion.benchmarks.GpuOpBenchmark 2>&1 | tee "$results/ops.txt" || status=1
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    PYTHONUNBUFFERED=1 python3 "$here/torch_side_by_side.py" 2>&1 | tee "$results/torch.txt" || status=1
else
    echo "no PyTorch with CUDA here: torch_side_by_side.py skipped" | tee "$results/torch.txt"
fi
exit $status
