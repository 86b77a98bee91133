#!/usr/bin/env bash
# All benchmarks, one after the other (each also runs alone: npm run bench:<name>). Each starts its
# own stack on its own ports and prints its figures; none is a test and none asserts a time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash infra/setup.sh
# Protocol (b) with SPH-Net takes ~40 min of fits per symbol on 2 cores: the default leaves it out
# (npm run bench:train alone runs every model of the protocol).
train_args=(--symbols BTC/USDT --models persistence,ewma,har_rv,log_har,har_x,garch,lightgbm,xgboost,lstm,lstm_jump,bilstm_attn --no-neural-bench)
for b in ${VOLCAST_BENCHES:-ingest features score train}; do
  echo; echo "===== bench:$b"
  if [[ $b == train ]]; then npm run --silent bench:train -- "${train_args[@]}"; else npm run --silent "bench:$b"; fi
done
echo; echo "===== neural throughput (trainer)"
.venv/bin/python bench/train_neural.py
