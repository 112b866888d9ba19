"""Cost per call from a versioned price table (genai-prices data, user overrides win)."""

from llmobs_nb.pricing.prices import Price, PriceBook, UnknownModelError

__all__ = ["Price", "PriceBook", "UnknownModelError"]
