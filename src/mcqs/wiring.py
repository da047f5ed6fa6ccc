"""Connects the domains: every background task and every handler of a lifecycle event.

Domains import downwards only (import-linter checks it in ``make lint``); what flows
upwards — a paid application queueing its registration, a rejection owing a refund —
goes through ``applications.lifecycle`` events, whose handlers are registered here. The
web app, the worker and the tests call :func:`connect` once before anything happens.
"""

from __future__ import annotations


def connect() -> None:
    import mcqs.eir.handlers  # noqa: F401
    import mcqs.eir.tasks  # noqa: F401

    # Every table on the metadata, whatever this process imported: a foreign key may name
    # another domain's table (applications.agent_id -> staff_accounts), and a worker that
    # never imported it could not write an application.
    import mcqs.models  # noqa: F401
    import mcqs.notifications.handlers  # noqa: F401
    import mcqs.notifications.tasks  # noqa: F401
    import mcqs.payments.handlers  # noqa: F401
    import mcqs.registrations.handlers  # noqa: F401
    import mcqs.registrations.tasks  # noqa: F401
    from mcqs.applications.lifecycle import mark_wired

    mark_wired()
