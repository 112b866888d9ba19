"""Redaction: false positives on ordinary text, recall on fake secrets, throughput.

Compares the redactor (detect-secrets' regex detectors plus ours, keyword prefilter) with the
hand list of seven patterns it replaced (kept below as it was at commit 8203f7c). The ordinary
corpus is ``llmobs_nb.demo.secret_corpus.ordinary_texts``: the demo's prompts and answers,
sentences with numbers, URLs without credentials, hashes and UUIDs in log lines, code snippets,
prose about keys and passwords. A false positive is a text in which anything is redacted.

Throughput is measured without the short-string cache (every text redacted from scratch), on
the texts one by one and on the corpus joined into 4 KB prompts.

Run: .venv/bin/python benchmarks/redaction.py [--repeats 5] [--texts 2000]
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

from llmobs_nb.capture.redact import REDACTED, Redactor
from llmobs_nb.demo.secret_corpus import fake_secrets, ordinary_texts

_OLD = [
    re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-\.=:/+]{8,}"),
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
    re.compile(
        r"(?i)((?:api[_-]?key|x-api-key|secret|password|passwd|token|authorization)"
        r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}]{6,})"
    ),
]
_OLD_ANY = re.compile(
    "|".join(
        f"(?i:{p.pattern[4:]})" if p.pattern.startswith("(?i)") else f"(?:{p.pattern})"
        for p in _OLD
    )
)


def old_redact(text: str) -> str:
    """The former redactor (hand list), without its cache."""
    if not _OLD_ANY.search(text):
        return text
    for pattern in _OLD:
        if pattern.groups == 2:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def false_positives(redact: Callable[[str], str], texts: list[str]) -> list[str]:
    return [t for t in texts if redact(t) != t]


def recall(redact: Callable[[str], str]) -> tuple[int, int, list[str]]:
    cases = fake_secrets()
    missed = [c.kind for c in cases if c.secret in redact(c.text)]
    return len(cases) - len(missed), len(cases), missed


def throughput(redact: Callable[[str], str], texts: list[str], repeats: int) -> float:
    """MB/s (UTF-8 bytes of input per second), best of ``repeats``."""
    size = sum(len(t.encode()) for t in texts)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            redact(text)
        best = min(best, time.perf_counter() - start)
    return size / best / 1e6


def joined(texts: list[str], size: int = 4096) -> list[str]:
    chunks, current = [], ""
    for text in texts:
        current += text + "\n"
        if len(current) >= size:
            chunks.append(current)
            current = ""
    return chunks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args()
    texts = ordinary_texts(args.texts)
    new = Redactor()
    source = new.source
    ours = sum(r.origin == "llmobs_nb" for r in new.rules)
    print(
        f"rules: {len(new.rules)} ({len(new.rules) - ours} from {source['package']} "
        f"{source['version']}, {len(source['detectors'])} detectors; {ours} ours)"
    )
    print(f"ordinary corpus: {len(texts)} texts, {sum(map(len, texts)) / 1e3:.0f} k chars")
    for label, redact in (("old hand list", old_redact), ("detect-secrets+ours", new.redact)):
        fps = false_positives(redact, texts)
        hit, total, missed = recall(redact)
        short = throughput(redact, texts, args.repeats)
        long = throughput(redact, joined(texts), args.repeats)
        print(
            f"{label:19s} false positives {len(fps)}/{len(texts)} ({len(fps) / len(texts):.1%})"
            f"  recall {hit}/{total}  {short:6.1f} MB/s per text  {long:6.1f} MB/s on 4 KB prompts"
        )
        for text in fps[:5]:
            print(f"    e.g. {text!r} -> {redact(text)!r}")
        if missed:
            print(f"    missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()
