"""Sign-in through the e-government portal: an OpenID Connect relying party (Authlib)."""

import warnings

from authlib.deprecate import AuthlibDeprecationWarning

# Authlib 1.9.10 warns at import, in every process, that it runs on httpx rather than
# httpx2 (which it prefers but nothing here needs). Exactly that warning is silenced,
# before any module of this package imports Authlib's clients; every other one stays.
warnings.filterwarnings(
    "ignore",
    message=r"The httpx module is deprecated; please use httpx2 instead\.",
    category=AuthlibDeprecationWarning,
)
