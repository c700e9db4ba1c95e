#!/usr/bin/env bash
# Runs, from a folder made by pack.sh, the tests of kernels-cuda (the GPU backend against the CPU backend) and
# core's golden tests on the GPU, and writes what happened into RESULTS_DIR:
#   machine.txt       nvidia-smi, the CUDA libraries found, the runtime
#   junit/, golden/   the JUnit reports (XML) of each suite; tests.txt and golden.txt, the consoles' trees
# Extra arguments go to the JVM of both suites.
# The CUDA libraries are the machine's (see environment.sh).
# Usage: ./run.sh RESULTS_DIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
results="${1:?usage: run.sh RESULTS_DIR [JVM options]}"
shift
mkdir -p "$results/junit" "$results/golden"
source "$here/environment.sh"
[ -d "$here/fixtures" ] && export JDIFFUSION_FIXTURES="$here/fixtures"

{
    echo "## nvidia-smi"; nvidia-smi 2>&1 || echo "(no nvidia-smi)"
    echo "## LD_LIBRARY_PATH"; echo "$LD_LIBRARY_PATH" | tr ':' '\n'
    echo "## CUDA libraries found"
    for lib in libcuda.so.1 libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcudnn.so.9 libnvrtc.so.13; do
        found=""
        for d in $(echo "$LD_LIBRARY_PATH" | tr ':' ' '); do
            [ -e "$d/$lib" ] && found="$d/$lib" && break
        done
        [ -z "$found" ] && found="$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l {print $NF; exit}')"
        echo "$lib: ${found:-not found}"
    done
    echo "## java"; "$java" -version 2>&1
} > "$results/machine.txt" 2>&1

classpath="$(ls "$here"/lib/*.jar | grep -v console-standalone | tr '\n' ':')"
launch() {
    "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED "$@"
}
launch "$@" -jar "$here"/lib/junit-platform-console-standalone-*.jar execute \
    --class-path "$here/tests:$classpath" --scan-class-path "$here/tests" --details tree \
    --reports-dir "$results/junit" > "$results/tests.txt" 2>&1
status=$?
tail -n 40 "$results/tests.txt"
launch -Djdiffusion.test.device=cuda "$@" -jar "$here"/lib/junit-platform-console-standalone-*.jar execute \
    --class-path "$here/core-tests:$classpath" --details tree --reports-dir "$results/golden" \
    --select-class dev.jdiffusion.models.clip.ClipTextModelGoldenTest \
    --select-class dev.jdiffusion.models.unet.UNetGoldenTest \
    --select-class dev.jdiffusion.models.vae.AutoencoderKLGoldenTest \
    --select-class dev.jdiffusion.pipeline.PipelineGoldenTest > "$results/golden.txt" 2>&1
golden=$?
tail -n 60 "$results/golden.txt"
[ $status -eq 0 ] && [ $golden -eq 0 ]
