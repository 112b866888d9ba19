"""Deprecated: the local LLM servers moved to :mod:`llmobs_nb.local_llm`.

``llmobs_nb.testing.X`` and its submodules keep working for one release with a
``DeprecationWarning``; ``secret_corpus`` moved to :mod:`llmobs_nb.demo.secret_corpus`.
"""

from llmobs_nb import local_llm
from llmobs_nb._deprecated import moved_names

__getattr__ = moved_names(
    __name__, {name: f"llmobs_nb.local_llm:{name}" for name in local_llm.__all__}
)
