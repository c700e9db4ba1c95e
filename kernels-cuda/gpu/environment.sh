# Sourced by run.sh and benchmark.sh, with $here set to the pack's folder: unpacks the runtime once (into
# $TMPDIR/jdiffusion-java) and sets $java, and puts the machine's CUDA libraries on LD_LIBRARY_PATH: CUDA_LIB_DIRS,
# else /usr/local/cuda*/lib64 and the lib folders of the nvidia-* Python wheels (as PyTorch installs them).
java_home="${TMPDIR:-/tmp}/jdiffusion-java"
if [ ! -x "$java_home/java/bin/java" ]; then
    mkdir -p "$java_home" && tar xJf "$here/java.tar.xz" -C "$java_home"
fi
java="$java_home/java/bin/java"

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
