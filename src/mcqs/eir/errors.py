"""The operator-facing errors of the network side, and their words (English: operators'
engineers read them in API answers and on the command line)."""

from __future__ import annotations

from typing import Any

from mcqs.errors import DomainError

OPERATOR_TEXT: dict[str, str] = {
    "operator_unknown": "no operator {operator}: add it with `mcqs operators add`",
    "network_file_empty": "the file holds no rows",
    "network_file_not_utf8": "the file is not UTF-8 text",
    "network_file_bad_delimiter": (
        "the header is separated by {delimiter!r}: fields are separated by commas"
    ),
    "network_file_bad_header": "the header must be exactly date,imei,imsi,msisdn,rat",
    "network_file_truncated": "line {line} ends in the middle of a row: the file is cut short",
    "network_zip_not_one_file": "a zip must hold exactly one CSV file; this one holds {count}",
    "network_file_other_operators": (
        "{share:.1%} of the rows carry IMSIs that are not this operator's subscribers "
        "(at most {limit:.1%} allowed): is this another operator's file?"
    ),
    "network_file_too_many_rejected": (
        "{share:.1%} of the rows were rejected (at most {limit:.1%} allowed): {reasons}"
    ),
    "detection_over_safety_share": (
        "this run would blacklist {count} of {seen} seen IMEIs ({share:.1%}, more than "
        "{limit:.1%}): nothing was changed; force it with --force-over-safety-share"
    ),
    "list_run_unknown": "no list run {run} for this operator",
}


class OperatorInputRefused(DomainError):
    """An operator's file or request that cannot be used; nothing was changed."""

    status_code = 422


def operator_words(error: DomainError) -> str:
    template = OPERATOR_TEXT.get(error.code, error.code)
    try:
        return template.format(**error.params)
    except (KeyError, IndexError, ValueError):
        return f"{error.code} {error.params}"


def refused(code: str, **params: Any) -> OperatorInputRefused:
    return OperatorInputRefused(code, **params)
