# Shared by scripts/fuzz.sh and scripts/fuzz-js.sh (sourced): the one-line summary of a libFuzzer log.
#   fuzz_summary LOG NAME [EXTRA]   prints "NAME ok: N execs (R/s)EXTRA, cov: .. ft: .. corp: .."
fuzz_summary() {
  local log=$1 name=$2 extra=${3:-} last execs rate
  last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 | grep -oE '(cov|ft|corp): [^ ]+' | tr '\n' ' ')
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
  [ "${rate:-0}" -gt 0 ] && rate=" ($rate/s)" || rate=""
  printf '%-17s ok: %s execs%s%s, %s\n' "$name" "${execs:-?}" "$rate" "$extra" "$last"
}
