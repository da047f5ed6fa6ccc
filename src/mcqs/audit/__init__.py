"""The audit log of staff actions: append-only, each entry chained to the one before by a
SHA-256 hash, so that an edited, deleted or reordered entry is found by ``verify_chain``."""
