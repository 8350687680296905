"""Powertools Logger, Tracer and Metrics, set up once for every function."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "configguard"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)


def record_failure(metric: str, message: str, exc: BaseException) -> None:
    """Make a failed invocation visible: one EMF count and one structured ERROR line."""
    from aws_lambda_powertools.metrics import MetricUnit

    from configguard.redact import redact_text

    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    logger.error(
        message,
        extra={"error_type": type(exc).__name__, "detail": redact_text(str(exc))[:500]},
    )
