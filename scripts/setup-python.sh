#!/usr/bin/env bash
# Makes the project's Python venv (default .venv/, or $FOCAL_VENV) with the libraries whose own code
# the fixtures, the ONNX toolchain checks, the real test networks and the benchmark's peers run:
# PyTorch (+ torchvision's focal_loss.py), Keras 3 on JAX, optax, onnx 1.23, onnxruntime, onnxscript.
# Everything comes from the machine's own wheel index (pip's configuration here); nothing is
# downloaded from elsewhere, and pip does not retry. Idempotent: a venv whose stamp matches the pins
# is left as it is. Prints the venv's python path on its last line. Keras needs KERAS_BACKEND=jax
# (there is no TensorFlow here).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${FOCAL_VENV:-.venv}"
pins=(
  "torch==2.13.0+cpu"
  "torchvision==0.28.0"
  "keras==3.15.1"
  "jax==0.10.2"
  "jaxlib==0.10.2"
  "optax==0.2.8"
  "onnx==1.23.1"
  "onnxruntime==1.30.0"
  "onnxscript"
  "numpy"
)
stamp="$venv/.focal-pins"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${pins[*]}" ]; then
  echo "$venv/bin/python"
  exit 0
fi
python=${PYTHON:-python3}
"$python" -m venv "$venv"
"$venv/bin/pip" install --retries 0 --quiet --disable-pip-version-check "${pins[@]}" >&2
printf '%s' "${pins[*]}" > "$stamp"
echo "$venv/bin/python"
