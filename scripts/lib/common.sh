# Sourced by the scripts in scripts/. Installs what a fresh machine lacks and sets up paths.
# Everything it installs is named here, so a new machine needs nothing installed by hand.

RECPOOL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export RECPOOL_ROOT

# System packages the build needs (Debian names).
recpool_system_packages() {
    local missing=()
    # jq and iproute2: the documentation test runs the docs' examples (jq) in network namespaces (ip).
    # libhnswlib-dev: the item index's HNSW graph (Sources/CHNSW, header-only C++).
    for pkg in libzmq3-dev libopenblas-dev libsqlite3-dev pkg-config python3-venv jq iproute2 libhnswlib-dev; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}" >&2
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# A local Python virtual environment (.venv) with scripts/requirements.txt, for the reference
# scripts, onnxruntime checks and the peer benchmarks. Exports RECPOOL_PYTHON.
recpool_python_env() {
    local venv="$RECPOOL_ROOT/.venv"
    local stamp="$venv/.requirements.sha256"
    local want
    want="$(sha256sum "$RECPOOL_ROOT/scripts/requirements.txt" | cut -d' ' -f1)"
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "setting up .venv (scripts/requirements.txt)" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$RECPOOL_ROOT/scripts/requirements.txt"
        echo "$want" > "$stamp"
    fi
    # The Python client (clients/python), editable so that its tests run the checked-out code.
    if ! "$venv/bin/python" -c "import recpool, sys; sys.exit(0 if recpool.__file__.startswith('$RECPOOL_ROOT/clients/python/') else 1)" 2>/dev/null; then
        "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$RECPOOL_ROOT/clients/python"
    fi
    export RECPOOL_PYTHON="$venv/bin/python"
}

# Builds the package (debug unless RECPOOL_CONFIGURATION=release) and exports RECPOOL_BIN.
recpool_build() {
    local config="${RECPOOL_CONFIGURATION:-debug}"
    (cd "$RECPOOL_ROOT" && swift build -c "$config" 2>&1 | grep -vE "warning: .*(isystem|mit-krb5)" | tail -n 20)
    RECPOOL_BIN="$(cd "$RECPOOL_ROOT" && swift build -c "$config" --show-bin-path)"
    export RECPOOL_BIN
}
