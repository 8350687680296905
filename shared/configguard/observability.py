"""Powertools Logger, Tracer and Metrics, set up once for every function."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "configguard"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)
