"""MNIST training lab engine: data, model zoo, streaming trainer and saved runs.

Nothing in `core` imports Streamlit. TensorFlow is imported lazily, and this
package turns oneDNN on before anything can import it: on CPUs without
AVX-512 VNNI/AMX TensorFlow leaves oneDNN off, which halves CNN training speed.
Set `TF_ENABLE_ONEDNN_OPTS=0` in the environment to opt out.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ INFO/WARNING noise off the console
