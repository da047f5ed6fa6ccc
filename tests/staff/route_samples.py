"""What the staff guard-rail test (``test_access_rules.py``) needs to call a staff route
that names a record in its path: for each path parameter, how to make a record of one
point and return the value to put in the path.

A staff route with a path parameter not listed here fails the guard rail: add the
parameter with a function that makes a record at ``owner``'s point (``owner`` is a
counter agent, with ``owner.point``) and returns its id as the path shows it. The test
then opens the route as staff of another point and expects 404, as for a record that
does not exist. ``point_scoped=False`` is for a record no point owns (a refund seen by
back office only): the route is then only checked for sign-in and roles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from staff.signing_in import Staff

from mcqs.db import Database


@dataclass(frozen=True)
class Sample:
    make: Callable[[Database, Staff], str]
    point_scoped: bool = True


#: Path parameter name → how to make a record for it.
SAMPLES: dict[str, Sample] = {}


def _counter_application(db: Database, owner: Staff) -> str:
    """An application made at ``owner``'s counter: its notification code."""
    from mcqs.applications.models import Channel
    from mcqs.devices.demo import example_imeis

    from factories import create_application

    assert owner.point is not None
    with db.transaction() as session:
        imei = example_imeis(session, count=1)[0][0]
        application = create_application(session, imeis=(imei,))
        application.channel = Channel.COUNTER
        application.point_id = owner.point.id
        application.agent_id = owner.account_id
        return application.notification_code


SAMPLES["code"] = Sample(make=_counter_application)
