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
