#!/usr/bin/env bash
# Set up Enhance Studio on a fresh machine and run it.
#
#   bash dev.sh editor [IMAGE [REFERENCE]]  open the editor (on the bundled sample image by default)
#   bash dev.sh test [PYTEST ARGS]  lint (ruff), type-check enhance_core and app (mypy), then run the test suite
#                                   (offscreen Qt); ruff and mypy print nothing when all is well
#
# The first run creates .venv and installs the project with its test and eval
# extras; later runs reinstall only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
    echo "usage: bash dev.sh editor [IMAGE [REFERENCE]] | bash dev.sh test [PYTEST ARGS...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
    editor | test) ;;
    *) usage ;;  # before anything is installed
esac

VENV=.venv
STAMP="$VENV/.enhance-studio-installed"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"

if ! cmp -s pyproject.toml "$STAMP" 2>/dev/null; then
    # PyTorch. PyPI's Linux wheel of torch bundles CUDA (several GB). On a
    # machine without an NVIDIA GPU, opt in to PyTorch's CPU-only build (about
    # 200 MB) from its CPU wheel index:
    #     ENHANCE_TORCH_CPU=1 bash dev.sh test
    # It installs torch 2.13.0, the version CI tests. Without the variable, a
    # machine without an NVIDIA GPU gets the same version from the configured
    # package index; with an NVIDIA GPU, torch is left to the project install. Either way the
    # project's "torch>=2.2,<3" is then met without a second download. To choose
    # a specific CUDA or CPU build yourself, install torch into .venv before
    # running this script; an already installed torch is always kept.
    if ! python -c "import torch" >/dev/null 2>&1; then
        if [ "${ENHANCE_TORCH_CPU:-0}" = "1" ]; then
            python -m pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
        elif ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }; then
            python -m pip install "torch==2.13.0"
        fi
    fi
    python -m pip install -e ".[test,eval]"
    cp pyproject.toml "$STAMP"
fi

case "$command" in
    editor)
        exec enhance-studio "$@"
        ;;
    test)
        export QT_QPA_PLATFORM=offscreen
        python -m ruff check --quiet .
        python -m mypy --no-error-summary  # settings and files: [tool.mypy] in pyproject.toml
        exec python -m pytest -q "$@"
        ;;
esac
