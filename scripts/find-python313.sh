#!/usr/bin/env bash
# Print the path of a working python3.13 interpreter (with pip), which `sam build`
# needs on PATH to build the python3.13 functions and layer. Exit 1 with a clear
# message when there is none: never fall back to another version silently.
#
# Looks at, in order: python3.13 on PATH, then <root>/versions/3.13.*/bin/python3.13
# for each pyenv root ($PYENV_ROOT, `pyenv root`, ~/.pyenv, /root/.pyenv), newest first.
set -euo pipefail

candidates=()

if on_path=$(command -v python3.13 2>/dev/null); then
    candidates+=("$on_path")
fi

roots=()
if [[ -n "${PYENV_ROOT:-}" ]]; then
    roots+=("$PYENV_ROOT")
fi
if command -v pyenv >/dev/null 2>&1; then
    if root=$(pyenv root 2>/dev/null) && [[ -n "$root" ]]; then
        roots+=("$root")
    fi
fi
roots+=("${HOME:-/root}/.pyenv" /root/.pyenv)

for root in "${roots[@]}"; do
    [[ -d "$root/versions" ]] || continue
    while IFS= read -r interpreter; do
        candidates+=("$interpreter")
    done < <(compgen -G "$root/versions/3.13.*/bin/python3.13" | sort -rV || true)
done

for candidate in "${candidates[@]}"; do
    # A pyenv shim or a broken install may exist yet not run: ask the interpreter
    # itself, and print its real path (not a shim's) so that PATH points at it.
    if real=$("$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null) \
        && [[ -n "$real" ]]; then
        if "$real" -m pip --version >/dev/null 2>&1; then
            echo "$real"
            exit 0
        fi
        echo "find-python313: $real runs but has no pip; skipping it" >&2
    fi
done

{
    echo "sam build needs a python3.13 interpreter for the python3.13 runtime; install one (e.g. pyenv install 3.13) and re-run"
    if ((${#candidates[@]})); then
        echo "(tried and rejected: ${candidates[*]})"
    else
        echo "(no python3.13 on PATH and none under any pyenv root)"
    fi
} >&2
exit 1
