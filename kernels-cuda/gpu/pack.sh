#!/usr/bin/env bash
# Packs what a GPU run needs into one folder that travels to a GPU machine with neither Java nor Maven:
#   java.tar.xz  a jlinked Java 25 runtime with just the modules the jars use, xz-compressed (15 MiB; 71 unpacked)
#   lib/         jdiffusion's jars, JavaCPP and its CUDA presets (bindings + linux-x86_64 JNI glue), JUnit
#   tests/       the compiled tests of kernels-cuda (the GPU backend against the CPU backend)
#   core-tests/  core's compiled tests, whose golden tests run on the GPU with -Djdiffusion.test.device=cuda
#   fixtures/    with --fixtures a,b/c: those folders of the golden fixtures, for the tests to compare against
#   run.sh       runs the tests there: see run.sh
#   benchmark.sh runs the GPU benchmarks beside PyTorch's (torch_side_by_side.py): see benchmark.sh
# The folder comes to about 31 MiB without fixtures: a lent GPU machine takes a working tree of 64 MiB, so name
# only the fixtures a run needs (clip_text 0.4 MiB, vae 3.5, unet/sd1_tiny 0.6, pipeline without its single-file
# checkpoint 29; the tiny U-Net and CLIP read their weights from pipeline/).
# Usage: kernels-cuda/gpu/pack.sh OUT_DIR [--fixtures clip_text,vae,unet/sd1_tiny,pipeline]
set -euo pipefail
out="${1:?usage: pack.sh OUT_DIR [--fixtures NAMES]}"
fixtures=""
[ "${2:-}" = "--fixtures" ] && fixtures="${3:?--fixtures needs a comma-separated list of fixture folders}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
java_home="$("$root/bin/java25" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.home = //p' | head -n1)"
[ -x "$java_home/bin/jlink" ] || { echo "pack.sh: no jlink under $java_home (a JDK 25, not a JRE, is needed)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/lib" "$out/tests" "$out/core-tests"
(cd "$root" && mvn -B -q -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true install -pl kernels-cuda,benchmarks -am)
(cd "$root" && mvn -B -q -pl kernels-cuda dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$out/lib")
cp "$root"/kernels-cuda/target/jdiffusion-kernels-cuda-*.jar "$out/lib/"
rm -f "$out"/lib/*-sources.jar "$out"/lib/*-javadoc.jar
cp -r "$root/kernels-cuda/target/test-classes/." "$out/tests/"
cp -r "$root/core/target/test-classes/." "$out/core-tests/"
cp "$root"/benchmarks/target/jdiffusion-benchmarks-*.jar "$out/lib/"
(cd "$root" && mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 \
    -DoutputDirectory="$out/lib")
# the launcher brings its own copy of JUnit
rm -f "$out"/lib/junit-jupiter-*.jar "$out"/lib/junit-platform-commons-*.jar "$out"/lib/junit-platform-engine-*.jar \
    "$out"/lib/junit-platform-launcher-*.jar "$out"/lib/opentest4j-*.jar "$out"/lib/apiguardian-*.jar

# The modules the run uses: java.desktop for the PNG codec of the pipeline's tests; jdeps also names java.sql, for
# JavaCPP's build tools and JUnit extensions that a run never loads.
strip=(--strip-debug)
if command -v objcopy >/dev/null; then # the JVM's own symbols too: a third of the runtime
    strip=(--strip-java-debug-attributes --strip-native-debug-symbols "objcopy=$(command -v objcopy)")
fi
"$java_home/bin/jlink" --add-modules java.base,java.desktop,java.logging,java.management,java.xml,jdk.unsupported,jdk.incubator.vector \
    "${strip[@]}" --no-header-files --no-man-pages --output "$out/java"
# xz takes the runtime to a fifth, where jlink's own zip compression only halves it
(cd "$out" && tar cJf java.tar.xz java && rm -rf java)

if [ -n "$fixtures" ]; then
    source="${JDIFFUSION_FIXTURES:-$root/../shared/fixtures}"
    mkdir -p "$out/fixtures"
    cp "$source/README.md" "$out/fixtures/"
    for part in ${fixtures//,/ }; do
        mkdir -p "$out/fixtures/$(dirname "$part")"
        # the pipeline's single-file F16 checkpoint (13 MiB) is left out: its golden cases skip without it
        cp -r "$source/$part" "$out/fixtures/$part"
        rm -f "$out/fixtures/$part"/*single_file*.safetensors
    done
fi
cp "$root"/kernels-cuda/gpu/{run.sh,benchmark.sh,environment.sh,torch_side_by_side.py} "$out/"
du -sh "$out" "$out"/* | sed 's/^/pack.sh: /'
