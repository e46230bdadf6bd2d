"""Counters and a latency histogram, rendered in the Prometheus text format."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter

__all__ = ["LATENCY_BUCKETS", "Metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages_in: Counter[str] = Counter()
        self.messages_out: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()  # answered / suggested / fallback / smalltalk
        self.quiz: Counter[str] = Counter()  # started / completed
        self.verdicts: Counter[str] = Counter()
        self.reload_failures = 0
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._latency_count = 0

    def observe(self, network: str, replies: int, events: list[tuple[str, str]], seconds: float) -> None:
        with self._lock:
            self.messages_in[network] += 1
            self.messages_out[network] += replies
            for kind, detail in events:
                if kind in {"answered", "suggested", "fallback", "smalltalk"}:
                    self.outcomes[kind] += 1
                elif kind == "quiz_started":
                    self.quiz["started"] += 1
                elif kind == "verdict":
                    self.quiz["completed"] += 1
                    self.verdicts[detail] += 1
            self._buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._latency_sum += seconds
            self._latency_count += 1

    def render(self, extra: dict[str, float] | None = None) -> str:
        with self._lock:
            lines = []

            def family(name: str, kind: str, help_text: str) -> None:
                lines.append(f"# HELP {name} {help_text}")
                lines.append(f"# TYPE {name} {kind}")

            family("pplbot_messages_in_total", "counter", "Messages received, per network.")
            lines += [f'pplbot_messages_in_total{{network="{n}"}} {v}' for n, v in sorted(self.messages_in.items())]
            family("pplbot_messages_out_total", "counter", "Replies sent, per network.")
            lines += [f'pplbot_messages_out_total{{network="{n}"}} {v}' for n, v in sorted(self.messages_out.items())]
            family("pplbot_questions_total", "counter", "Questions by outcome.")
            for outcome in ("answered", "suggested", "fallback", "smalltalk"):
                lines.append(f'pplbot_questions_total{{outcome="{outcome}"}} {self.outcomes[outcome]}')
            family("pplbot_questionnaires_total", "counter", "Questionnaires started and completed.")
            for stage in ("started", "completed"):
                lines.append(f'pplbot_questionnaires_total{{stage="{stage}"}} {self.quiz[stage]}')
            family("pplbot_verdicts_total", "counter", "Questionnaire verdicts by kind.")
            lines += [f'pplbot_verdicts_total{{verdict="{k}"}} {v}' for k, v in sorted(self.verdicts.items())]
            family("pplbot_knowledge_reload_failures_total", "counter", "Knowledge reloads that failed validation.")
            lines.append(f"pplbot_knowledge_reload_failures_total {self.reload_failures}")
            family("pplbot_reply_seconds", "histogram", "Time from message in to replies ready.")
            cumulative = 0
            for bound, count in zip(LATENCY_BUCKETS, self._buckets, strict=False):
                cumulative += count
                lines.append(f'pplbot_reply_seconds_bucket{{le="{bound}"}} {cumulative}')
            cumulative += self._buckets[-1]
            lines.append(f'pplbot_reply_seconds_bucket{{le="+Inf"}} {cumulative}')
            lines.append(f"pplbot_reply_seconds_sum {self._latency_sum:.6f}")
            lines.append(f"pplbot_reply_seconds_count {self._latency_count}")
            for name, value in sorted((extra or {}).items()):
                family(name, "gauge", name.replace("_", " "))
                lines.append(f"{name} {value}")
            return "\n".join(lines) + "\n"
