#!/usr/bin/env bash
# All benchmarks, one after the other (each also runs alone: npm run bench:<name>). Each starts its
# own stack on its own ports and prints its figures; none is a test and none asserts a time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash infra/setup.sh
for b in ${VOLCAST_BENCHES:-ingest features score train}; do
  echo; echo "===== bench:$b"
  npm run --silent "bench:$b"
done
echo; echo "===== neural throughput (trainer)"
.venv/bin/python bench/train_neural.py
