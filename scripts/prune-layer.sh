#!/usr/bin/env bash
# Remove from a built layer the packages the python3.13 Lambda runtime already
# provides (boto3 and its dependencies), with their *.dist-info and *.data, and report the
# layer's size before and after. Everything else stays.
#
# Usage: scripts/prune-layer.sh DIR     (DIR is e.g. .aws-sam/build/ConfigGuardLayer)
set -euo pipefail

if (($# != 1)); then
    echo "usage: $0 LAYER_DIR (e.g. .aws-sam/build/ConfigGuardLayer)" >&2
    exit 2
fi
layer=$1
site="$layer/python"
if [[ ! -d "$layer" ]]; then
    echo "prune-layer: $layer does not exist; run sam build first" >&2
    exit 1
fi
if [[ ! -d "$site" ]]; then
    echo "prune-layer: $site does not exist; is $layer a built python layer?" >&2
    exit 1
fi

# Import names and distribution names (normalised to underscores, as in
# *.dist-info directory names) of what the python3.13 runtime ships.
runtime_modules=(boto3 botocore s3transfer jmespath dateutil six urllib3)
runtime_distributions=(boto3 botocore s3transfer jmespath python_dateutil six urllib3)

size() {
    du -sh "$1" | cut -f1
}

echo "prune-layer: $layer before: $(size "$layer")"

removed=0
for module in "${runtime_modules[@]}"; do
    for path in "$site/$module" "$site/$module.py"; do
        if [[ -e "$path" ]]; then
            rm -rf -- "$path"
            echo "  removed ${path#"$site/"}"
            removed=$((removed + 1))
        fi
    done
done
shopt -s nullglob nocaseglob
for dist in "${runtime_distributions[@]}"; do
    for path in "$site/$dist"-*.dist-info "$site/$dist"-*.data \
        "$site/${dist//_/-}"-*.dist-info "$site/${dist//_/-}"-*.data; do
        if [[ -e "$path" ]]; then
            rm -rf -- "$path"
            echo "  removed ${path#"$site/"}"
            removed=$((removed + 1))
        fi
    done
done
# jmespath's console script, when pip put it in bin/ rather than *.data/.
if [[ -e "$site/bin/jp.py" ]]; then
    rm -f -- "$site/bin/jp.py"
    echo "  removed bin/jp.py"
    removed=$((removed + 1))
fi
shopt -u nullglob nocaseglob

echo "prune-layer: removed $removed entries; $layer after: $(size "$layer")"
