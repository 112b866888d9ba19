"""Instrumentation of real SDK clients: ``openai`` and ``anthropic``."""

from llmobs_nb.clients.anthropic import instrument_anthropic
from llmobs_nb.clients.openai import instrument_openai
from llmobs_nb.clients.patching import uninstrument

__all__ = ["instrument_anthropic", "instrument_openai", "uninstrument"]
