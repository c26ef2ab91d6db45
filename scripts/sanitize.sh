#!/usr/bin/env bash
# The test suite against the addon built with AddressSanitizer + UndefinedBehaviorSanitizer, LeakSanitizer on.
#
#   scripts/sanitize.sh [FILE|FILTER...]   build the sanitized addon, then run the suite (or the test files
#                                         given, as `vitest run` takes them) against it
#   scripts/sanitize.sh --build            build only
#
# Environment: SANITIZE_BUILD (build directory, default build-asan; build/ is never touched), SANITIZE_JOBS
# (compile jobs, default 2), SANITIZE_NICE (the build's niceness, default 10; the tests run at the caller's:
# a starved vitest worker that cannot answer the main process for 60 s fails the run).
# Build: gcc, -DLLAMA4_SANITIZE=ON (-fsanitize=address,undefined -O1) plus -g, UBSan not recoverable, no
# CUDA, into SANITIZE_BUILD/RelWithDebInfo/llama4.node, which LLAMA4_ADDON selects in every process.
# Run: node is not instrumented, so gcc's libasan and libubsan are preloaded (LD_PRELOAD) into vitest and,
# through the environment, into every process the tests start (the CLI, the server, the chat in tmux);
# scripts/sanitize/preload.c limits leak checks to node and sends UBSan's reports to the log directory.
# A report of any process lands in SANITIZE_BUILD/logs/{asan,ubsan}.PID (ASan and UBSan stop the process at
# the first error). Leaks: vitest ends its workers with SIGTERM, which skips LeakSanitizer's check at exit,
# so scripts/sanitize/setup.ts runs it after each test file, once the garbage is collected; the CLI and
# server processes are checked at exit. scripts/sanitize/lsan.supp suppresses V8's own bookkeeping only,
# never a frame of ours. scripts/sanitize/vitest.config.ts names the tests left out and why.
# Any report, any failing test, exits non-zero; the last line is a one-line summary.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${SANITIZE_BUILD:-build-asan}
JOBS=${SANITIZE_JOBS:-2}
NICE=${SANITIZE_NICE:-10}
ROOT=$PWD
LOGS="$ROOT/$BUILD/logs"

build_only=0
case "${1:-}" in
  --build) build_only=1; shift ;;
  -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
esac

LIBASAN=$(gcc -print-file-name=libasan.so)
LIBUBSAN=$(gcc -print-file-name=libubsan.so)
if [ ! -f "$LIBASAN" ] || [ ! -f "$LIBUBSAN" ]; then
  echo "sanitize.sh: gcc's libasan / libubsan are missing (Debian: apt-get install g++, which brings them)" >&2
  exit 2
fi

# ---- build --------------------------------------------------------------------------------------------
t0=$SECONDS
mkdir -p "$BUILD"
# `configure` every time, so these options always apply (compile alone keeps an existing configuration).
# cmake-js passes CMAKE_CXX_FLAGS itself, so -g and the rest ride on the configuration's flags; the
# target's -O1 (LLAMA4_SANITIZE) comes after them on the command line. The compiler is gcc's (CC/CXX
# choose it at the first configure; a -D for it would make CMake drop the cache and these options).
cmake_opts=(--config RelWithDebInfo -O "$BUILD" --CDLLAMA4_SANITIZE=ON --CDLLAMA4_CUDA=OFF
  "--CDCMAKE_CXX_FLAGS_RELWITHDEBINFO=-g -DNDEBUG -fno-sanitize-recover=undefined")
if ! { CC=gcc CXX=g++ nice -n "$NICE" npx cmake-js configure "${cmake_opts[@]}" &&
       nice -n "$NICE" npx cmake-js build "${cmake_opts[@]}" --parallel "$JOBS"; } >"$BUILD/build.log" 2>&1; then
  tail -30 "$BUILD/build.log" >&2
  echo "sanitize.sh: the build failed (log $BUILD/build.log)" >&2
  exit 1
fi
ADDON="$ROOT/$BUILD/RelWithDebInfo/llama4.node"
if ! ldd "$ADDON" | grep -q libasan; then
  echo "sanitize.sh: $ADDON is not linked with gcc's libasan (an older configuration of $BUILD? remove it)" >&2
  exit 1
fi
HELPER="$ROOT/$BUILD/leak_check.node"
PRELOAD="$ROOT/$BUILD/preload.so"
gcc -O1 -shared -fPIC -I node_modules/node-api-headers/include scripts/sanitize/leak_check.c -o "$HELPER"
gcc -O1 -shared -fPIC scripts/sanitize/preload.c -o "$PRELOAD" -ldl
build_s=$((SECONDS - t0))
echo "sanitize: built $BUILD/RelWithDebInfo/llama4.node in ${build_s}s"
[ "$build_only" = 1 ] && exit 0
# the CLI tests run bin/llama4.js over dist/
[ -f dist/cli/index.js ] || npm run build:ts >/dev/null

# ---- run ----------------------------------------------------------------------------------------------
rm -rf "$LOGS"
mkdir -p "$LOGS"
t1=$SECONDS
status=0
# allocator_may_return_null: a huge size must reach our std::bad_alloc handling ("needs X GiB"), not stop
# in ASan's own report. handle_sigbus=0: test/faults/sigbus.test.ts truncates a mapped model on purpose and
# expects the addon's handler, then the default action.
env LD_PRELOAD="$LIBASAN $LIBUBSAN $PRELOAD" SANITIZE_LEAK_EXE="$(readlink -f "$(command -v node)")" \
  ASAN_OPTIONS="log_path=$LOGS/asan:halt_on_error=1:detect_leaks=1:allocator_may_return_null=1:handle_sigbus=0:check_initialization_order=1" \
  LSAN_OPTIONS="suppressions=$ROOT/scripts/sanitize/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" SANITIZE_UBSAN_LOG="$LOGS/ubsan" \
  LLAMA4_ADDON="$ADDON" LLAMA4_LEAK_CHECK="$HELPER" LLAMA4_SANITIZE_LOGS="$LOGS" \
  CHROMIUM_PATH="$ROOT/scripts/sanitize/chromium" \
  node node_modules/vitest/vitest.mjs run --config scripts/sanitize/vitest.config.ts "$@" \
  2>&1 | tee "$LOGS/vitest.log" || status=$?
run_s=$((SECONDS - t1))

# ---- verdict ------------------------------------------------------------------------------------------
reports=()
for f in "$LOGS"/asan.* "$LOGS"/ubsan.*; do [ -s "$f" ] && reports+=("$f"); done
for f in "${reports[@]}"; do
  echo "==== $f" >&2
  head -60 "$f" >&2
done
strip() { sed 's/\x1b\[[0-9;]*m//g' "$LOGS/vitest.log"; }
# a report that reached a terminal all the same (none should: the log files are the place)
stray=$(strip | grep -cE '^==[0-9]+==ERROR: [A-Za-z]+Sanitizer|: runtime error: ' || true)
kinds=$(cat "${reports[@]}" /dev/null | grep -ohE 'ERROR: [A-Za-z]+Sanitizer: [a-z-]+|runtime error' | sort | uniq -c |
        awk '{$1=$1; print}' | paste -sd, - || true)
files=$(strip | sed -nE 's/^ *Test Files +(.*) \([0-9]+\)$/\1/p' | tail -1)
tests=$(strip | sed -nE 's/^ *Tests +(.*) \([0-9]+\)$/\1/p' | tail -1)
extra=""
[ "$stray" != 0 ] && extra=", $stray more in the test output"
# vitest counts a progress message that its main process took over 60 s to acknowledge as an error of the
# run ('Timeout calling "onTaskUpdate"'), which the sanitized suite can meet on a loaded 2-core machine
# (each file's results still arrive). When those are the only errors and every file and test passed, the
# run passes, and the summary says how many there were.
rpc=$(strip | grep -c '^Error: \[vitest-worker\]: Timeout calling "onTaskUpdate"' || true)
errors=$(strip | sed -nE 's/^ *Errors +([0-9]+) errors?$/\1/p' | tail -1)
if [ "$status" != 0 ] && [ "$rpc" != 0 ] && [ "${errors:-0}" = "$rpc" ] && [ -n "$files" ] && [ -n "$tests" ] &&
   [[ "$files $tests" != *failed* ]]; then
  status=0
  extra="$extra; $rpc vitest progress timeout(s) ignored"
fi
echo "sanitize: ${#reports[@]} sanitizer reports${kinds:+ ($kinds)}$extra; test files ${files:-? (vitest exited $status)}; tests ${tests:-?}; build ${build_s}s, run ${run_s}s; logs $BUILD/logs"
[ "$status" = 0 ] && [ ${#reports[@]} = 0 ] && [ "$stray" = 0 ]
