"""The operator area's command groups, added to the ``pmh`` root by ``cli.py``."""

from __future__ import annotations

from pmh.operator.contracts.cli import contracts_app
from pmh.operator.fees.cli import fees_app
from pmh.operator.stats.cli import stats_app
from pmh.operator.subsidy.cli import subsidy_app

__all__ = ["contracts_app", "fees_app", "stats_app", "subsidy_app"]
