"""Every knob of the assistant in one place, read from `RAG_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .resources import corpus_dir

BUNDLED_CORPUS = corpus_dir()  # package data (rag/resources.py), wherever the package is installed


class ScoringSettings(BaseModel):
    """Weights of the offline answerer. One set for every corpus: each was checked on the news gold
    set and the Python-documentation gold set together (see evals/README.md), never tuned to one."""

    model_config = ConfigDict(extra="forbid")

    dense_weight: float = Field(
        default=0.55, ge=0, le=1,
        description="Share of a sentence's score from embedding similarity (the rest: IDF-weighted "
        "coverage of the question's terms). Meaning and exact words both matter; neither alone ranks well.",
    )
    pair_penalty: float = Field(
        default=0.03, ge=0, le=1,
        description="Two adjacent sentences must beat one by this much to be quoted together: shorter quotes read better.",
    )
    type_bonus: float = Field(
        default=0.08, ge=0, le=1,
        description="Bonus for a sentence that holds the kind of answer asked for (a figure, a date, a name), "
        "and penalty for one that does not: a sentence that names what is asked beats one that only refers to it.",
    )
    keep_ratio: float = Field(
        default=0.8, ge=0, le=1,
        description="Further quotes must score at least this share of the best: weaker ones are noise.",
    )
    followup_context_weight: float = Field(
        default=0.85, ge=0, le=1,
        description="A follow-up answered by the earlier question's words alone scores this share: the new words decide.",
    )
    repeat_penalty: float = Field(
        default=0.15, ge=0, le=1,
        description="Penalty, in a follow-up, for a sentence the previous answer already quoted: the reader has "
        "seen it, and \"And what undoes it?\" asks for something new.",
    )
    title_context_weight: float = Field(
        default=0.5, ge=0, le=1,
        description="A question word found only in the article's title counts this share for each of its "
        "sentences: the title says what the whole article is about (\"Editor: ...\" under \"What's New in 3.7\").",
    )
    section_context_weight: float = Field(
        default=0.5, ge=0, le=1,
        description="A question word found only in the heading a sentence stands under counts this share: "
        "the heading names what its paragraphs are about (\"PEP written by ...\" under \"PEP 563: ...\").",
    )
    label_bonus: float = Field(
        default=0.2, ge=0, le=1,
        description="Bonus for a label/value pair or table row whose label the question names (\"Editor: ...\" "
        "for \"Who edited ...?\", \"ERROR | 40\" for the ERROR level): terse, so similarity alone underrates it.",
    )
    question_penalty: float = Field(
        default=0.3, ge=0, le=1,
        description="Penalty for a sentence that is itself a question (an FAQ heading): it asks, it does not answer, "
        "yet it is the sentence most similar to the question.",
    )
    lead_in_penalty: float = Field(
        default=0.1, ge=0, le=1,
        description="Penalty for a sentence that ends with a colon: it announces what follows (a list, an example) "
        "instead of stating it.",
    )
    heading_penalty: float = Field(
        default=0.1, ge=0, le=1,
        description="Penalty for a heading (a short line with no sentence end, not a label/value pair): it names "
        "a topic, the sentences under it say something about it.",
    )
    code_penalty: float = Field(
        default=0.08, ge=0, le=1,
        description="Penalty for a sentence that reads like code (dense in brackets, quotes and operators): "
        "examples illustrate, prose states.",
    )
    same_fact_overlap: float = Field(
        default=0.5, ge=0, le=1,
        description="Quotes from different articles sharing this share of content words state the same fact: "
        "shown once, with every outlet named.",
    )


class Settings(BaseSettings):
    """Settings with offline defaults: no key, no network, the bundled corpus, a local store."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    # --- where things live -------------------------------------------------------------------
    corpus_dir: Path = Field(
        default=BUNDLED_CORPUS,
        description="Folder of articles that `rag ingest` (and the first `ask` on an empty store) reads.",
    )
    data_dir: Path = Field(
        default=Path(".rag"),
        description="Folder of the embedded Chroma store and caches. Created on first use.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (`chroma run`), e.g. http://127.0.0.1:8000. "
        "Unset: an embedded, persistent Chroma under data_dir.",
    )
    collection: str = Field(
        default="rag",
        description="Prefix of the Chroma collection names (chunks and documents).",
    )

    # --- store reliability and scale (store, ingest, index) ---------------------------------------
    chroma_ef_search: int = Field(
        default=400, ge=10,
        description="Candidates Chroma's HNSW graph explores per dense search. Its default, 100, missed 1.2% of "
        "the 40 nearest chunks at 150 pages, and in some processes the nearest one; 400 misses 0.04% for +0.2 ms.",
    )
    chroma_timeout: float = Field(
        default=30.0, gt=0,
        description="Seconds before a call to the Chroma server times out: a frozen server must not hang a question.",
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where the local model's ONNX export is kept (unset: $XDG_CACHE_HOME/rag or ~/.cache/rag); "
        "shared by every data folder, so it is exported once per machine.",
    )
    generation_check_seconds: float = Field(
        default=1.0, ge=0,
        description="How long a question trusts the last look at the store's generation: another "
        "process's ingest is seen within this many seconds.",
    )
    ingest_group_sentences: int = Field(
        default=4000, ge=1,
        description="Sentences parsed, embedded and written together during an ingest: bounds its memory "
        "(~10 MB of vectors at 4,000; three groups are in flight: parsed, embedded, written) while keeping "
        "writes in bulk; a killed ingest loses at most the two groups not yet written.",
    )
    ingest_child_min_bytes: int = Field(
        default=1_000_000, ge=0,
        description="Bytes of files to ingest from which the local model embeds in a child process, where "
        "the parent's parsing and Chroma writes never hold up its threads (150 pages: 43.3-44.0 s of sync "
        "against 45.6-47.1 s). Below it (or for a single file), starting the child (~0.5 s, ~230 MB) costs more "
        "than it saves. 0: always.",
    )
    ingest_repeat_cache: int = Field(
        default=20_000, ge=0,
        description="Texts whose vectors an ingest keeps, so that a sentence repeated in a later group "
        "(\"See also\", \"Changed in version 3.3\", boilerplate) is not embedded again: ~30 MB at 20,000; "
        "at 150 pages 2.7% fewer tokens (all repeats: 3.3%). 0: off.",
    )
    derive_child_min_chunks: int = Field(
        default=2000, ge=0,
        description="Chunks from which a new generation's statistics are built in a child process while BM25 "
        "is built in this one (both single-threaded Python; 494 pages: 5.7-5.8 s against 7.2 s). Below it, "
        "starting the child (~0.3 s) costs more than it saves. 0: always.",
    )

    # --- chunking and embedding ---------------------------------------------------------------
    chunk_size: int = Field(default=200, ge=32, le=2048, description="Chunk size in tokens.")
    chunk_overlap: int = Field(default=40, ge=0, le=512, description="Token overlap between chunks.")
    chunk_title_weight: float = Field(
        default=0.5, ge=0, le=2,
        description="Weight of the article title's vector in each chunk's vector (chunk = its sentences' mean "
        "direction plus this much of the title): a sentence rarely repeats what its page is about "
        "(\"Python 3.7 was released ...\" under \"What's New In Python 3.7\"). Checked on both gold sets.",
    )
    embed_batch_size: int = Field(default=64, ge=1, le=1024, description="Texts per embedding batch.")
    embed_question_threads: int = Field(
        default=0, ge=0, le=64,
        description="Threads of the local model for a call that is one batch (a question, the few sentences an "
        "answer lacks); 0: one per core, at most 4. On 2 cores a question embedded in 2.5 ms on two threads "
        "against 3.1 ms on one, for 4.9 ms of CPU against 3.3 (1 favours many questions at once over each one's "
        "latency). An ingest's batches run single-threaded, one per core, whatever this says.",
    )
    embed_model: str = Field(
        default="local:all-MiniLM-L6-v2",
        description="`local:all-MiniLM-L6-v2` (bundled weights, offline) or `openai:MODEL` "
        "(an embedding model served by the configured OpenAI-compatible endpoint).",
    )
    embed_precision: Literal["int8", "fp32"] = Field(
        default="int8",
        description="The local model's arithmetic. int8 (outlier-aware, built from the bundled weights) embeds "
        "twice as fast on CPUs with 8-bit dot products, every vector measured within cosine 0.99 of fp32's "
        "(min 0.992 over 40,000 real and code-like texts); fp32 runs the full model. Each has its own collection.",
    )

    # --- retrieval -----------------------------------------------------------------------------
    top_k: int = Field(
        default=15, ge=1, le=50,
        description="Passages handed to the answerer after fusion: the answerer ranks sentences, so a passage "
        "that ranks low as a whole may still hold the one sentence that answers (10 lost 4 of 102 facts on the docs set).",
    )
    fusion: Literal["reciprocal_rerank", "relative_score", "dist_based_score"] = Field(
        default="relative_score",
        description="How dense and BM25 results are fused: llama-index QueryFusionRetriever's modes, applied to ids "
        "and scores (`rag/fusion.py`; a test holds them equal). relative_score keeps a strong lexical hit that the "
        "dense side ranks low.",
    )
    candidate_k: int = Field(
        default=20, ge=1, le=200,
        description="Passages each retriever (dense, BM25) returns before fusion: more than top_k, so that fusion can choose.",
    )
    filter_in_store_max_articles: int = Field(
        default=32, ge=0, le=1_000_000,
        description="A search limited to at most this many articles asks Chroma to filter; Chroma's `$in` filter "
        "costs ~0.1 ms an article (48 ms for 450 at 494 pages), so a larger one reads `post_filter_fetch` passages "
        "unfiltered and keeps the chosen articles' (Chroma filters only when too few are among them).",
    )
    post_filter_fetch: int = Field(
        default=200, ge=1, le=10_000,
        description="Passages an unfiltered search reads before keeping those of the chosen articles (see above).",
    )
    lexical_threads: int = Field(
        default=4, ge=1, le=64,
        description="Threads that run BM25 searches while their questions are embedded: one per question at "
        "once; beyond this many concurrent questions, a BM25 search runs on the asking thread instead.",
    )

    # --- answering -----------------------------------------------------------------------------
    max_question_chars: int = Field(
        default=2000, ge=10, description="Longer questions are refused with a clear message."
    )
    max_citations: int = Field(default=3, ge=1, le=10, description="Most quotes an offline answer shows.")
    min_relevance: float = Field(
        default=0.40,
        ge=0.0,
        le=1.0,
        description="Offline answerer: below this relevance of the best sentence, abstain. Calibrated on both "
        "gold sets (news and Python docs): the value that keeps false abstentions and answered "
        "unanswerables both lowest on the two together.",
    )
    scoring: ScoringSettings = Field(
        default_factory=ScoringSettings,
        description="Weights of the offline answerer (RAG_SCORING__DENSE_WEIGHT=..., and so on).",
    )

    # --- generative answerer (OpenAI or any OpenAI-compatible server) ----------------------------
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RAG_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="API key; with a key or a base URL set, answers come from the model.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RAG_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
        description="Base URL of an OpenAI-compatible server (vLLM, llama.cpp, Ollama).",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Chat model name at the endpoint.")
    llm_timeout: float = Field(
        default=60.0, gt=0, description="Seconds for a whole model answer (retries included); then the offline answer."
    )
    llm_max_retries: int = Field(default=2, ge=0, le=10, description="Retries on timeouts, 429 and 5xx.")

    # --- generative answerer: what the model reads and writes (issue 12) --------------------------
    llm_context_tokens: int = Field(
        default=8192, ge=512, description="The model's context window (tokens); the passages sent are budgeted from it."
    )
    llm_max_tokens: int = Field(
        default=120, ge=16, le=4096, description="Longest reply (tokens): three short cited lines need ~100."
    )

    # --- chat UI -------------------------------------------------------------------------------
    chat_host: str = Field(default="127.0.0.1", description="Address `rag chat` binds to.")
    chat_port: int = Field(default=7860, ge=1, le=65535, description="Port `rag chat` listens on.")
    chat_user: str | None = Field(default=None, description="Login user for the chat (optional).")
    chat_password: SecretStr | None = Field(default=None, description="Login password for the chat.")

    @field_validator("chroma_url", "openai_base_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def llm_configured(self) -> bool:
        """True when the user pointed us at a model; otherwise everything stays offline."""
        return self.openai_api_key is not None or self.openai_base_url is not None
