# Sourced by the bench scripts: from the repo root, a work folder ($1 or a new temporary one) as $work, a vane
# binary as $VANE (built in release unless VANE is set), and the default model fetched.
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
if [ -z "${VANE:-}" ]; then
    swift build -c release --product vane >&2
    VANE=.build/release/vane
fi
"$VANE" fetch smollm2 >&2
