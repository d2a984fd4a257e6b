#!/usr/bin/env bash
# The reader's long run on a lent GPU machine (see training/README.md, "On a GPU"); run there from the repository
# root with the pack carried: bash training/gpu.sh PACK OUT [train options...]. It trains from the shipped reader
# in bf16, evaluating on dev at each checkpoint, then leaves in OUT the weights as float16 parts of at most 15 MB
# (what that machine's file transfer takes), the run's config.json and log.jsonl.
set -euo pipefail
pack=$1 out=$2
shift 2
run=/tmp/reader-gpu-run
rm -rf "$run"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
${PYTHON:-python3} -m training train --packed "$pack" --run "$run" --device cuda --threads 8 \
    --init rag/models/reader/model.onnx --checkpoint-minutes 3 "$@"
${PYTHON:-python3} - "$run" "$out" <<'PY'
import sys
from pathlib import Path

import torch

from training.pack import split

run, out = Path(sys.argv[1]), Path(sys.argv[2])
split(torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)["net"], out)
for name in ("config.json", "log.jsonl"):
    (out / name).write_bytes((run / name).read_bytes())
PY
ls -la "$out"
