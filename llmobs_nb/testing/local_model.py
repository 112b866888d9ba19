"""Deprecated: moved to :mod:`llmobs_nb.local_llm.local_model`."""

from llmobs_nb._deprecated import moved_module

moved_module(__name__, "llmobs_nb.local_llm.local_model")
