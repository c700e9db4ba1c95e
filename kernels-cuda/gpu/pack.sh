#!/usr/bin/env bash
# Packs what a GPU run needs into one folder that travels to a GPU machine with neither Java nor Maven:
#   java/        a jlinked Java 25 runtime with just the modules the jars use
#   lib/         jdiffusion's jars, JavaCPP and its CUDA presets (bindings + linux-x86_64 JNI glue), JUnit
#   tests/       the compiled GPU tests of kernels-cuda
#   fixtures/    with --fixtures a,b: those folders of the golden fixtures, for the GPU tests to compare against
#   run.sh       runs the tests there: see run.sh
# The folder comes to about 59 MiB without fixtures (the runtime 49, the jars 9.4): a lent GPU machine takes a
# working tree of 64 MiB, so name only the fixtures a run needs (clip_text 0.4 MiB, vae 3.5, unet 9.6).
# Usage: kernels-cuda/gpu/pack.sh OUT_DIR [--fixtures clip_text,vae]
set -euo pipefail
out="${1:?usage: pack.sh OUT_DIR [--fixtures NAMES]}"
fixtures=""
[ "${2:-}" = "--fixtures" ] && fixtures="${3:?--fixtures needs a comma-separated list of fixture folders}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
java_home="$("$root/bin/java25" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.home = //p' | head -n1)"
[ -x "$java_home/bin/jlink" ] || { echo "pack.sh: no jlink under $java_home (a JDK 25, not a JRE, is needed)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/lib" "$out/tests"
(cd "$root" && mvn -B -q -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true install -pl kernels-cuda -am)
(cd "$root" && mvn -B -q -pl kernels-cuda dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$out/lib")
cp "$root"/kernels-cuda/target/jdiffusion-kernels-cuda-*.jar "$out/lib/"
rm -f "$out"/lib/*-sources.jar "$out"/lib/*-javadoc.jar
cp -r "$root/kernels-cuda/target/test-classes/." "$out/tests/"
(cd "$root" && mvn -B -q dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.11.4 \
    -DoutputDirectory="$out/lib")
# the launcher brings its own copy of JUnit
rm -f "$out"/lib/junit-jupiter-*.jar "$out"/lib/junit-platform-commons-*.jar "$out"/lib/junit-platform-engine-*.jar \
    "$out"/lib/junit-platform-launcher-*.jar "$out"/lib/opentest4j-*.jar "$out"/lib/apiguardian-*.jar

# The modules the run uses: jdeps also names java.desktop and java.sql, for JavaCPP's build tools and JUnit
# extensions that a run never loads, and they would double the runtime's size.
strip=(--strip-debug)
if command -v objcopy >/dev/null; then # the JVM's own symbols too: a third of the runtime
    strip=(--strip-java-debug-attributes --strip-native-debug-symbols "objcopy=$(command -v objcopy)")
fi
"$java_home/bin/jlink" --add-modules java.base,java.logging,java.management,java.xml,jdk.unsupported,jdk.incubator.vector \
    "${strip[@]}" --no-header-files --no-man-pages --compress zip-9 --output "$out/java"

if [ -n "$fixtures" ]; then
    source="${JDIFFUSION_FIXTURES:-$root/../shared/fixtures}"
    mkdir -p "$out/fixtures"
    cp "$source/README.md" "$out/fixtures/"
    for part in ${fixtures//,/ }; do
        cp -r "$source/$part" "$out/fixtures/"
    done
fi
cp "$root/kernels-cuda/gpu/run.sh" "$out/run.sh"
du -sh "$out" "$out"/* | sed 's/^/pack.sh: /'
