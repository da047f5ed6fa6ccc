"""``python -m mcqs_simulators.operator URL CLIENT_ID CLIENT_SECRET``: one day of an
operator's work against a running MCQS, printed as JSON."""

from __future__ import annotations

import datetime as dt
import json
import sys

import httpx

from mcqs_simulators.operator.app import DEMO_TACS
from mcqs_simulators.operator.client import OperatorClient, run_day, subscribers


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    url, client_id, client_secret = sys.argv[1:]
    with httpx.Client(timeout=60) as http:
        client = OperatorClient(url, client_id=client_id, client_secret=client_secret, http=http)
        report = run_day(client, subscribers(20, tacs=DEMO_TACS), day=dt.date.today())
    print(json.dumps(report.__dict__, indent=2))


main()
