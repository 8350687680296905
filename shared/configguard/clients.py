"""The one client factory: endpoint settings, Region, adaptive retries, optional assumed role.

Endpoints come from botocore's own configuration (AWS_ENDPOINT_URL and
AWS_ENDPOINT_URL_<SERVICE>) unless a caller passes one explicitly, so the same
code talks to AWS, or to the local stand-in when those variables point at it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

MAX_ATTEMPTS = 8
# Reads a scan keeps in flight at once; every client pools that many connections.
DEFAULT_CONCURRENCY = 8
_RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
    user_agent_extra="configguard",
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=max(10, DEFAULT_CONCURRENCY),
)


def current_region() -> str:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise RuntimeError("no AWS Region: set AWS_REGION or pass --region")
    return region


@dataclass
class ClientFactory:
    """Builds and caches boto3 clients for one identity, Region and endpoint."""

    region: str | None = None
    endpoint_url: str | None = None
    session: boto3.session.Session | None = None
    _cache: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self, service: str, region: str | None = None) -> Any:
        region_name = region or self.region or current_region()
        key = (service, region_name)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                if self.session is None:
                    # One session per factory: its loader parses the service models and
                    # endpoint data once for every client, not once per client.
                    self.session = boto3.session.Session()
                session = self.session
                kwargs: dict[str, Any] = {"region_name": region_name, "config": _RETRY_CONFIG}
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                cached = session.client(service, **kwargs)
                self._cache[key] = cached
            return cached

    def assume(self, role_arn: str, session_name: str = "configguard") -> ClientFactory:
        """A factory whose clients use credentials of `role_arn` (organization mode)."""
        sts = self.client("sts")
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        return ClientFactory(region=self.region, endpoint_url=self.endpoint_url, session=session)


_default: ClientFactory | None = None
_default_lock = threading.Lock()


def default_factory() -> ClientFactory:
    """The process-wide factory for the function's own role (reused across invocations)."""
    global _default  # noqa: PLW0603 - one shared factory per Lambda sandbox
    with _default_lock:
        if _default is None:
            _default = ClientFactory()
        return _default


def reset_default_factory() -> None:
    """Forget cached clients, e.g. after the endpoint or credentials changed."""
    global _default  # noqa: PLW0603
    with _default_lock:
        _default = None
