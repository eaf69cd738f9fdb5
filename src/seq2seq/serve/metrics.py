"""The server's Prometheus metrics (text exposition format at GET /metrics).

Built on `prometheus_client`, the Prometheus project's own Python library, with a registry per
application (two servers in one process, as in the tests, keep separate counts).

    seq2seq_requests_total{endpoint, code}        requests answered
    seq2seq_request_errors_total{endpoint, code}  of those, answered with a 4xx or 5xx status
    seq2seq_request_latency_seconds{endpoint}     histogram, from request to response
    seq2seq_batch_sentences                       histogram, sentences per coalesced search
    seq2seq_batch_requests                        histogram, requests per coalesced search
    seq2seq_search_seconds                        histogram, time of each search
    seq2seq_sentences_translated_total            sentences that went through the model
    seq2seq_queue_depth                           sentences waiting for the model now
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    def __init__(self, queue_depth: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        labels = ("endpoint", "code")
        registry = self.registry
        self.requests = Counter(
            "seq2seq_requests", "HTTP requests answered", labels, registry=registry
        )
        self.errors = Counter(
            "seq2seq_request_errors",
            "requests answered with a 4xx or 5xx status",
            labels,
            registry=registry,
        )
        self.latency = Histogram(
            "seq2seq_request_latency_seconds",
            "time from request to response",
            ("endpoint",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_sentences = Histogram(
            "seq2seq_batch_sentences",
            "sentences per coalesced search",
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.batch_requests = Histogram(
            "seq2seq_batch_requests",
            "requests per coalesced search",
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.search_seconds = Histogram(
            "seq2seq_search_seconds",
            "time of each search",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.sentences = Counter(
            "seq2seq_sentences_translated",
            "sentences that went through the model",
            registry=registry,
        )
        self.queue_depth = Gauge(
            "seq2seq_queue_depth", "sentences waiting for the model", registry=registry
        )
        self.queue_depth.set_function(queue_depth)

    def observe_request(self, endpoint: str, code: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(code)).inc()
        if code >= 400:
            self.errors.labels(endpoint, str(code)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def observe_batch(self, sentences: int, requests: int, seconds: float) -> None:
        self.batch_sentences.observe(sentences)
        self.batch_requests.observe(requests)
        self.search_seconds.observe(seconds)
        self.sentences.inc(sentences)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the text exposition format."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
