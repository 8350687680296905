"""Lambda: route Security Hub findings (custom action, optional auto-trigger) to fixes."""

from __future__ import annotations

from configguard.hubrouter import router_handler

lambda_handler = router_handler()
