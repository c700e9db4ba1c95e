#!/usr/bin/env bash
# Runs, from a folder made by pack.sh, the GPU tests of kernels-cuda and writes what happened into RESULTS_DIR:
#   machine.txt       nvidia-smi, the CUDA libraries found, the runtime
#   junit/            the JUnit reports (XML), and tests.txt, the console's tree
# The CUDA libraries are the machine's: CUDA_LIB_DIRS, else /usr/local/cuda*/lib64 and the lib folders of the
# nvidia-* Python wheels (as PyTorch installs them) go on LD_LIBRARY_PATH.
# Usage: ./run.sh RESULTS_DIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
results="${1:?usage: run.sh RESULTS_DIR}"
mkdir -p "$results/junit"

dirs="${CUDA_LIB_DIRS:-}"
for d in /usr/local/cuda*/lib64 /usr/lib/x86_64-linux-gnu; do
    [ -d "$d" ] && dirs="$dirs:$d"
done
for python in python3 python; do
    if command -v "$python" >/dev/null 2>&1; then
        for d in $("$python" -c 'import site, glob; print(" ".join(sorted(set(g for s in site.getsitepackages() for g in glob.glob(s + "/nvidia/*/lib")))))' 2>/dev/null); do
            dirs="$dirs:$d"
        done
        break
    fi
done
export LD_LIBRARY_PATH="${dirs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
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
    echo "## java"; "$here/java/bin/java" -version 2>&1
} > "$results/machine.txt" 2>&1

"$here/java/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -jar "$here"/lib/junit-platform-console-standalone-*.jar execute \
    --class-path "$here/tests:$(ls "$here"/lib/*.jar | grep -v console-standalone | tr '\n' ':')" \
    --scan-class-path "$here/tests" --details tree --reports-dir "$results/junit" > "$results/tests.txt" 2>&1
status=$?
tail -n 25 "$results/tests.txt"
exit $status
