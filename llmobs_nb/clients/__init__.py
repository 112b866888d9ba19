"""Instrumentation of real SDK clients: ``openai`` and ``anthropic``; agent frameworks traced by
their own instrumentation (``instrument_openai_agents``)."""

from llmobs_nb.clients.agent_frameworks import instrument_openai_agents
from llmobs_nb.clients.anthropic import instrument_anthropic
from llmobs_nb.clients.openai import instrument_openai
from llmobs_nb.clients.patching import uninstrument

__all__ = ["instrument_anthropic", "instrument_openai", "instrument_openai_agents", "uninstrument"]
