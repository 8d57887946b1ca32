#!/usr/bin/env bash
# footprint.sh prints, as a Markdown table, the figures the "lean, legible codebase" issue
# tracks for the checkout it lives in:
#
#   (a) the stripped size of the resetbot binary;
#   (b) how long a first `go run ./cmd/resetbot demo` takes on a fresh machine, simulated with
#       empty GOCACHE and GOMODCACHE directories of its own (modules come from GOPROXY);
#   (c) the resident memory of `resetbot run`, idle once it is connected to Slack and again after
#       one reset, run against the fakes of `resetbot demo --serve`;
#   (d) the lines of Go in package main (cmd/resetbot, tests excluded) and how many files.
#
# Usage: scripts/footprint.sh [--no-cold]
#   --cold     measure (b) (the default; it takes minutes and, with the Graph SDK, gigabytes)
#   --no-cold  skip (b)
#
# Everything it writes goes into one temporary directory, removed on exit with the processes it
# started. The Go build and module caches of the machine are read and added to by the ordinary
# builds of (a) and (c), as any build does, and never cleared; (b) uses caches of its own.
set -euo pipefail

cold=1
for arg in "$@"; do
	case $arg in
	--cold) cold=1 ;;
	--no-cold) cold=0 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "footprint.sh: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done

cd "$(dirname "$0")/.."
root=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/resetbot-footprint.XXXXXX")
pids=()

cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	exec 3>&- 2>/dev/null || true
	# A module cache is read-only unless written with -modcacherw; make sure it can go.
	chmod -R u+w "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "footprint: $*" >&2; }

# mb prints a byte count in megabytes (10^6, as `ls -l` sizes are usually quoted).
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

# kb_mb prints a /proc size in kB as megabytes.
kb_mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k * 1024 / 1e6 }'; }

# wait_for waits up to $2 seconds for file $1 to contain the fixed string $3.
wait_for() {
	local file=$1 secs=$2 text=$3 i
	for ((i = 0; i < secs * 10; i++)); do
		if [[ -f $file ]] && grep -qF -- "$text" "$file"; then
			return 0
		fi
		sleep 0.1
	done
	say "gave up after ${secs}s waiting for \"$text\" in $(basename "$file")"
	return 1
}

# rss prints the resident set of process $1 in kB, from /proc.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

show_logs() {
	local f
	for f in "$tmp"/demo.out "$tmp"/demo.err "$tmp"/run.err; do
		[[ -f $f ]] && { echo "--- $(basename "$f") (last lines)" >&2; tail -n 15 "$f" >&2; }
	done
	return 0
}

# (a) binary size.
build_flags=(-trimpath -ldflags "-s -w")
say "building ./cmd/resetbot (stripped)"
bin=$tmp/resetbot
CGO_ENABLED=0 go build "${build_flags[@]}" -o "$bin" ./cmd/resetbot
stripped=$(stat -c %s "$bin")
go build -o "$tmp/resetbot-unstripped" ./cmd/resetbot
unstripped=$(stat -c %s "$tmp/resetbot-unstripped")
rm -f "$tmp/resetbot-unstripped"

# (b) first `go run ./cmd/resetbot demo` with empty caches.
cold_cell="not measured (--no-cold)"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if ((cold)); then
	say "first go run ./cmd/resetbot demo with empty GOCACHE and GOMODCACHE (minutes)"
	mkdir "$tmp/gocache" "$tmp/gomodcache"
	flags="$(go env GOFLAGS) -modcacherw"
	timer=()
	[[ -x /usr/bin/time ]] && timer=(/usr/bin/time -v -o "$tmp/cold.time")
	start=$(date +%s.%N)
	status=0
	GOCACHE=$tmp/gocache GOMODCACHE=$tmp/gomodcache GOFLAGS=$flags \
		"${timer[@]}" go run ./cmd/resetbot demo >"$tmp/cold.out" 2>&1 || status=$?
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
	cold_cell=$(printf '%dm%02ds' $((secs / 60)) $((secs % 60)))
	if [[ -f $tmp/cold.time ]]; then
		peak=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/cold.time")
		cold_cell+=" (peak RSS of one build step $(kb_mb "$peak"))"
	fi
	if ((status != 0)); then
		say "go run ./cmd/resetbot demo failed (exit $status):"
		tail -n 20 "$tmp/cold.out" >&2
		cold_cell+=" — FAILED, exit $status"
	fi
	chmod -R u+w "$tmp/gomodcache"
	rm -rf "$tmp/gocache" "$tmp/gomodcache"
fi

# (c) resident memory of `resetbot run` against the sandbox's fakes.
say "starting resetbot demo --serve and resetbot run"
mkfifo "$tmp/people"
exec 3<>"$tmp/people" # held open so the sandbox's stdin never sees an end
"$bin" demo --serve --env-file "$tmp/resetbot.env" --http-addr '' <"$tmp/people" >"$tmp/demo.out" 2>"$tmp/demo.err" &
pids+=($!)
wait_for "$tmp/resetbot.env" 30 "SSL_CERT_FILE=" || { show_logs; exit 1; }
(
	set -a
	. "$tmp/resetbot.env"
	set +a
	cd "$tmp"
	exec "$bin" run
) >"$tmp/run.out" 2>"$tmp/run.err" &
run=$!
pids=("$run" "${pids[@]}") # stopped before the fakes it talks to
wait_for "$tmp/demo.out" 60 "(resetbot connected to the fake Slack)" || { show_logs; exit 1; }
sleep 2 # let the startup checks of every provider finish
idle=$(rss "$run")

echo "rita: /reset-sessions alice@example.com testing" >&3
wait_for "$tmp/demo.out" 60 "resetbot posted in #" || { show_logs; exit 1; }
echo "sam: approve" >&3
wait_for "$tmp/demo.out" 60 "resetbot replied in the thread" || { show_logs; exit 1; }
sleep 1
after=$(rss "$run")
peak_run=$(hwm "$run")
summary=$(grep -A1 -F "resetbot replied in the thread" "$tmp/demo.out" | tail -n 1 | sed 's/^ *//')

# (d) package main.
mapfile -t mainfiles < <(ls cmd/resetbot/*.go | grep -v '_test\.go$')
lines=$(cat "${mainfiles[@]}" | wc -l)

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")
echo
echo "resetbot footprint at $commit ($(go version | awk '{ print $3, $4 }'), $(date -u +%Y-%m-%d))"
echo
echo "| figure | value | measured with |"
echo "| --- | --- | --- |"
echo "| (a) binary, stripped | $(mb "$stripped") ($stripped bytes; unstripped $(mb "$unstripped")) | \`CGO_ENABLED=0 go build -trimpath -ldflags \"-s -w\" ./cmd/resetbot\`; unstripped: \`go build ./cmd/resetbot\` |"
echo "| (b) first \`go run ./cmd/resetbot demo\`, fresh machine | $cold_cell | empty GOCACHE and GOMODCACHE, modules from $(go env GOPROXY | cut -d, -f1); load average before: $load_before |"
echo "| (c) \`resetbot run\` RSS, idle | $(kb_mb "$idle") | VmRSS 2 s after it connected to \`demo --serve\`'s fake Slack |"
echo "| (c) \`resetbot run\` RSS, after one reset | $(kb_mb "$after") (peak $(kb_mb "$peak_run")) | VmRSS (VmHWM) 1 s after the summary: ${summary:-?} |"
echo "| (d) package main | ${lines} lines of Go in ${#mainfiles[@]} files | \`cmd/resetbot/*.go\` without \`_test.go\` |"
