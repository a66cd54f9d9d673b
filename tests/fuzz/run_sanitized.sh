#!/usr/bin/env bash
# Run the level extractor under AddressSanitizer on the fuzz corpus (tests/fuzz/corpus.py).
#
#   tests/fuzz/run_sanitized.sh [--scale N] [--seed S] [--captures DIR]
#
# Builds dragonfly/_core/extract_c.pyx and tests/fuzz/_harness.pyx with
# -fsanitize=address in a temporary copy of the package (the working tree is not
# touched), checks that the sanitizer catches a deliberate one-byte over-read, then feeds
# the corpus through the cdef API on exact-size malloc buffers and through the Python
# API. Exit status: 0 clean; non-zero on any sanitizer report, on a disagreement with the
# pure-Python twin, or when the sanitizer setup does not work. Needs gcc (or clang) with
# libasan, Cython and setuptools. Env: PYTHON (default python3), CC.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dragonfly-asan.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# A copy of the Python package without compiled modules: only the instrumented
# extract_c is built; every other core module falls back to its pure twin.
mkdir -p "$WORK/pkg"
cp -R "$REPO/dragonfly" "$WORK/pkg/"
find "$WORK/pkg/dragonfly" \( -name '*.so' -o -name '*.pyd' -o -name '*.c' -o -name '*.html' -o -name '__pycache__' \) -prune -exec rm -rf {} +
find "$WORK/pkg/dragonfly/_core" -name '*_c.pyx' ! -name 'extract_c.pyx' -delete
cp "$HERE/_harness.pyx" "$WORK/pkg/"

echo "== building with -fsanitize=address in $WORK"
(cd "$WORK/pkg" && "$PY" - <<'PYEOF'
import sys
from Cython.Build import cythonize
from setuptools import Extension, setup

flags = ["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer", "-fno-common"]
exts = [
    Extension("dragonfly._core.extract_c", ["dragonfly/_core/extract_c.pyx"], extra_compile_args=flags, extra_link_args=["-fsanitize=address"]),
    Extension("_harness", ["_harness.pyx"], extra_compile_args=flags, extra_link_args=["-fsanitize=address"]),
]
sys.argv = ["setup.py", "build_ext", "--inplace", "-q"]
setup(ext_modules=cythonize(exts, compiler_directives={"language_level": "3"}, quiet=True), script_args=sys.argv[1:])
PYEOF
) >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; echo "build failed"; exit 2; }

CCBIN="${CC:-gcc}"
ASAN_LIB="$($CCBIN -print-file-name=libasan.so)"
if [ ! -e "$ASAN_LIB" ]; then echo "libasan.so not found (via $CCBIN)"; exit 2; fi
export LD_PRELOAD="$ASAN_LIB"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=86:allocator_may_return_null=1"
export PYTHONMALLOC=malloc
export PYTHONPATH="$WORK/pkg"
export DRAGONFLY_NO_EXTENSIONS=0

echo "== self-test: a deliberate 1-byte over-read must be reported"
set +e
"$PY" "$HERE/fuzz_driver.py" --selftest >"$WORK/selftest.log" 2>&1
rc=$?
set -e
if [ "$rc" -ne 86 ] || ! grep -q "heap-buffer-overflow" "$WORK/selftest.log"; then
    cat "$WORK/selftest.log"
    echo "sanitizer self-test failed (exit $rc): the run would prove nothing"
    exit 3
fi
echo "   caught (heap-buffer-overflow)"

echo "== fuzz corpus"
"$PY" "$HERE/fuzz_driver.py" "$@"
echo "== clean: no sanitizer report"
