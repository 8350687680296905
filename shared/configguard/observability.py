"""Powertools Logger, Tracer and Metrics, set up once for every function.

The Tracer is built on first use, not at import: building it imports the X-Ray SDK,
whose recorder creates botocore clients for sampling, and patches every library the
SDK supports. Handlers decorated with `tracer.capture_lambda_handler` build it when
they are first invoked, before their body runs, so every call is traced as before.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "configguard"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)


class LazyTracer:
    """A Powertools Tracer built on first use; other attributes go to the real one."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._tracer: Tracer | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._tracer is not None

    def get(self) -> Tracer:
        """The real Tracer, built the first time it is needed."""
        with self._lock:
            if self._tracer is None:
                self._tracer = Tracer(service=self._service)
            return self._tracer

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.get(), name)

    def capture_lambda_handler(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[..., Any]:
        """Tracer.capture_lambda_handler, applied when the handler is first invoked."""
        if lambda_handler is None:
            return functools.partial(
                self.capture_lambda_handler,
                capture_response=capture_response,
                capture_error=capture_error,
            )
        handler = lambda_handler
        traced: Callable[..., Any] | None = None

        @functools.wraps(handler)
        def decorate(event: Any, context: Any, **kwargs: Any) -> Any:
            nonlocal traced
            if traced is None:
                traced = self.get().capture_lambda_handler(
                    handler, capture_response=capture_response, capture_error=capture_error
                )
            return traced(event, context, **kwargs)

        return decorate


tracer = LazyTracer(SERVICE)


def record_failure(metric: str, message: str, exc: BaseException) -> None:
    """Make a failed invocation visible: one EMF count and one structured ERROR line."""
    from aws_lambda_powertools.metrics import MetricUnit

    from configguard.redact import redact_text

    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    logger.error(
        message,
        extra={"error_type": type(exc).__name__, "detail": redact_text(str(exc))[:500]},
    )
