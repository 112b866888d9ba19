"""Short prompt and answer texts for the few demo calls that carry content.

Real stores hold content only where capture_content was on; the demo fills about 1% of calls,
with a poor answer where the judge scored the call low, so "why was this answer bad" has an
answer to read.
"""

from __future__ import annotations

# One tuple per use case, in the order of profiles.USE_CASES; the same length for each.
QUESTIONS: tuple[tuple[str, ...], ...] = (
    (
        "Where is my order #48213? It was due on Monday.",
        "How do I change the delivery address of an order?",
        "Can I return a jacket I bought 40 days ago?",
        "My card was charged twice for one order.",
    ),
    (
        "How do I rotate the API key without downtime?",
        "What is the rate limit of the search endpoint?",
        "Does the SDK support async clients?",
        "How are webhooks retried after a failure?",
    ),
    (
        "Summarise this support ticket thread in three bullet points.",
        "Summarise the attached meeting notes for the weekly report.",
        "Give a one-paragraph summary of this incident review.",
        "Summarise the customer's complaint for the escalation team.",
    ),
    (
        "Write a SQL query that counts orders per day for the last week.",
        "Why does this Python function raise KeyError on empty input?",
        "Refactor this loop into a list comprehension.",
        "Add type hints to this function.",
    ),
)

GOOD_ANSWERS: tuple[tuple[str, ...], ...] = (
    (
        "Order #48213 left our warehouse on Tuesday; the tracking link is in your email.",
        "Open Orders, pick the order and choose Change address before it ships.",
        "Returns are accepted within 30 days; after that we can offer store credit.",
        "The second charge is a pending authorisation and will drop within 3 days.",
    ),
    (
        "Create a second key, deploy it, then revoke the first one (Settings > API keys).",
        "The search endpoint allows 60 requests per minute per key.",
        "Yes: use AsyncClient, it mirrors every method of Client.",
        "Failed webhooks are retried with exponential backoff for up to 24 hours.",
    ),
    (
        "- Customer reports a double charge\n- Agent confirmed a pending hold\n- Resolved",
        "The team agreed to ship v2 on Friday and to move the review to Monday.",
        "A config change caused 20 minutes of errors; a rollback fixed it.",
        "The customer received a damaged item twice and asks for a refund.",
    ),
    (
        "SELECT date_trunc('day', created_at) AS day, count(*) FROM orders GROUP BY 1;",
        "dict[key] raises on a missing key; use dict.get(key) or check for emptiness first.",
        "result = [f(x) for x in items if x is not None]",
        "def total(prices: list[float]) -> float: ...",
    ),
)

POOR_ANSWERS: tuple[str, ...] = (
    "I'm sorry, I can't help with that request.",
    "Please contact support for more information.",
    "I don't have enough information to answer.",
    "As an AI model, I cannot access your account.",
)

HUMAN_COMPLAINTS: tuple[str, ...] = (
    "wrong answer",
    "did not use my order number",
    "too generic",
    "outdated information",
)
