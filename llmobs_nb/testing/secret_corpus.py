"""Deprecated: moved to :mod:`llmobs_nb.demo.secret_corpus`."""

from llmobs_nb._deprecated import moved_module

moved_module(__name__, "llmobs_nb.demo.secret_corpus")
