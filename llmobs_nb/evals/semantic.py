"""Semantic similarity to a reference with WordLlama, a small static embedding model.

WordLlama (``pip install wordllama``) ships its default weights (``l2_supercat``, 256
dimensions, 16 MB) and tokenizer inside its wheel, so it runs offline: it is loaded with
``cache_dir`` set to the package's own folder and downloads disabled, never touching a model
hub. Loading takes about a second, once per process; one comparison takes well under a
millisecond on CPU.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from llmobs_nb.evals.base import Check, reference_of
from llmobs_nb.evals.protocol import CapturedCall, EvalResult
from llmobs_nb.evals.text import clean_text

INSTALL_HINT = "pip install wordllama"
_model: Any = None
_model_lock = threading.Lock()


def load_wordllama() -> Any:
    """The process-wide WordLlama model, loaded offline from the package's own folder.

    Example:
        >>> load_wordllama().similarity("a cat", "a cat") > 0.99
        True
    """
    global _model
    with _model_lock:
        if _model is None:
            try:
                import wordllama
            except ImportError:
                raise ImportError(
                    f"SemanticSimilarity needs the wordllama package: {INSTALL_HINT}"
                ) from None
            folder = Path(wordllama.__file__).parent
            try:
                _model = wordllama.WordLlama.load(cache_dir=folder, disable_download=True)
            except FileNotFoundError as error:
                raise ImportError(
                    f"wordllama is installed but its bundled weights are missing ({error}): "
                    f"reinstall it with `pip install --force-reinstall wordllama`"
                ) from None
        return _model


class SemanticSimilarity(Check):
    """Cosine similarity of answer and reference embeddings, clipped to [0, 1].

    Opposite or unrelated meanings (cosine ≤ 0) score 0. ``threshold`` sets the label:
    ``similar`` at or above it, ``different`` below. Texts longer than ``max_chars`` are
    compared on their first ``max_chars`` characters.

    Example:
        >>> call = CapturedCall(None, None, "", "Paris is France's capital.",
        ...                     reference="The capital of France is Paris.")
        >>> SemanticSimilarity().evaluate(call).value > 0.8
        True
    """

    def __init__(
        self,
        *,
        threshold: float = 0.7,
        max_chars: int = 20_000,
        name: str = "semantic_similarity",
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
            raise ValueError(f"max_chars must be an int >= 1, got {max_chars!r}")
        params = {"model": "wordllama l2_supercat 256", "threshold": threshold}
        if max_chars != 20_000:
            params["max_chars"] = max_chars
        super().__init__(name, params)
        self.threshold = threshold
        self.max_chars = max_chars

    def evaluate(self, call: CapturedCall) -> EvalResult:
        reference = reference_of(call, self.name)
        answer = clean_text(call.output)
        if not answer.strip() or not reference.strip():
            same = float(answer.strip() == reference.strip())
            return EvalResult(self.name, same, None, "one side is empty")
        # An average of word vectors: past a few pages more text barely moves it, but costs
        # seconds to tokenise, so both sides are cut at max_chars.
        cut = len(answer) > self.max_chars or len(reference) > self.max_chars
        cosine = float(
            load_wordllama().similarity(answer[: self.max_chars], reference[: self.max_chars])
        )
        value = min(1.0, max(0.0, cosine))
        label = "similar" if value >= self.threshold else "different"
        note = f" (first {self.max_chars} characters)" if cut else ""
        return EvalResult(self.name, value, label, f"cosine {cosine:.3f}{note}")
