"""The registry's back office: refunds owed (online and at counters) paid out and marked."""
