# Sourced by the compare-*.sh scripts, after they set $out: run_step, the one way their steps run and resume.

# run_step WHAT FILE COMMAND…: unless FILE exists, runs COMMAND with its stdout going to FILE (through FILE.partial,
# renamed on success, so an interrupted step runs again) and its stderr to OUT/WHAT.log; on failure prints that log
# and stops the script.
run_step() {
  local what=$1 file=$2 name=${0##*/}; shift 2
  [[ -e "$file" ]] && return
  if ! "$@" > "$file.partial" 2> "$out/$what.log"; then
    echo "${name%.sh}: the $what step failed ($out/$what.log):" >&2
    cat "$out/$what.log" >&2
    exit 1
  fi
  mv "$file.partial" "$file"
}
