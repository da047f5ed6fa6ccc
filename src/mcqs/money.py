"""Money is integer qəpik (1 AZN = 100 qəpik), never float."""


def format_azn(qepik: int) -> str:
    """``2000`` → ``"20.00 AZN"``."""
    sign = "-" if qepik < 0 else ""
    whole, cents = divmod(abs(qepik), 100)
    return f"{sign}{whole}.{cents:02d} AZN"
