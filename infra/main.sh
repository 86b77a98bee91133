#!/usr/bin/env bash
# The main job (README): install what is missing, start the embedded dev stack, run the pipeline.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash infra/setup.sh
exec node cli/volcast.js demo "$@"
