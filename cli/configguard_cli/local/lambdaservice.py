"""The stand-in's Lambda service: run queued asynchronous invocations with the real code.

moto accepts `Invoke(InvocationType=Event)` through gap-fill (o) and queues the
event. This module plays the part Lambda plays in AWS: it takes each queued event,
runs the function's real handler from the checkout in-process with the function's
configured environment variables, and, when the handler raises, delivers the event
to the function's dead-letter queue as Lambda does once its retries are spent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from configguard_cli.events import context_for
from configguard_cli.handlers import environment, function_handler, invoke
from configguard_cli.local import gapfills
from configguard_cli.local.standin import StandIn


@dataclass(frozen=True)
class Run:
    """One asynchronous invocation, run: its result, or the error that sent it to the DLQ."""

    function_name: str
    event: dict[str, Any]
    result: Any = None
    error: str | None = None


def _dead_letter(
    standin: StandIn, configuration: dict[str, Any], payload: bytes, error: str
) -> None:
    target = (configuration.get("DeadLetterConfig") or {}).get("TargetArn")
    if not target:
        return
    sqs = standin.client("sqs")
    url = sqs.get_queue_url(QueueName=target.rsplit(":", 1)[1])["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=payload.decode(),
        MessageAttributes={
            "ErrorMessage": {"DataType": "String", "StringValue": error[:1000]},
        },
    )


def run_queued(standin: StandIn, *, max_rounds: int = 5) -> list[Run]:
    """Run every queued invocation, and those they queue, for up to `max_rounds` rounds."""
    runs: list[Run] = []
    awslambda = standin.client("lambda")
    for _ in range(max_rounds):
        queued = gapfills.take_async_invocations(standin.account_id, standin.region)
        if not queued:
            break
        for item in queued:
            configuration = awslambda.get_function_configuration(FunctionName=item.function_name)
            variables = (configuration.get("Environment") or {}).get("Variables") or {}
            event = json.loads(item.payload or b"{}")
            context = context_for(item.function_name, standin.account_id, standin.region)
            handler = function_handler(item.function_name)
            try:
                with environment(variables):
                    result = invoke(handler, event, context)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                _dead_letter(standin, configuration, item.payload, message)
                runs.append(Run(item.function_name, event, error=message))
                continue
            runs.append(Run(item.function_name, event, result=result))
    return runs
