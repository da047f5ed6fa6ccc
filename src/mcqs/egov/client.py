"""The OpenID Connect client of the e-government portal, and what its failures mean.

Authlib's Starlette client does the protocol: discovery, the authorization code flow with
PKCE (S256), ``state`` and ``nonce`` kept in the signed session, the code exchanged at the
token endpoint, and the ID token's signature checked against the provider's JWKS, with
its issuer (the discovery document's), audience (our client id), expiry and nonce. It
works against any standard provider (a Keycloak realm: README, "Pointing it at the real
parties"). Each way it can fail maps to one stable code that the page shows.
"""

from __future__ import annotations

import logging

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    DecodeError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
)

from mcqs.config import Settings

log = logging.getLogger(__name__)

# Clock difference allowed between the portal and us when reading iat/exp.
LEEWAY_SECONDS = 60


def egov_client(settings: Settings) -> StarletteOAuth2App:
    """The portal's client, configured by its discovery URL, client id and secret."""
    oauth = OAuth()
    client: StarletteOAuth2App = oauth.register(
        "egov",
        client_id=settings.egov_client_id,
        client_secret=settings.egov_client_secret,
        server_metadata_url=settings.egov_discovery_url,
        client_kwargs={
            "scope": "openid profile",
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": settings.egov_token_auth_method,
            "timeout": settings.egov_timeout_seconds,
        },
    )
    return client


_CLAIM_CODES = {
    "iss": "egov_token_issuer",
    "aud": "egov_token_audience",
    # A token whose audience is not (only) us must name us as its authorized party.
    "azp": "egov_token_audience",
    "nonce": "egov_token_nonce",
}


def refusal_code(error: Exception) -> str | None:
    """The stable code of a failed sign-in, or None for an error that is ours (a bug)."""
    if isinstance(error, OAuthError):
        log.warning("e-gov sign-in refused: %s", error.error)
        if error.error == "mismatching_state":
            return "egov_state_invalid"  # tampered, replayed, or another browser's
        if error.error == "access_denied":
            return "egov_cancelled"
        if error.error == "invalid_grant":
            return "egov_code_refused"  # replayed, expired, or PKCE failed
        return "egov_refused"
    if isinstance(error, httpx.TransportError) or (
        isinstance(error, httpx.HTTPStatusError) and error.response.status_code >= 500
    ):
        # Down, slow (our timeout), or failing (5xx): the portal is unavailable, try later.
        log.warning("e-gov portal unreachable: %s", type(error).__name__)
        return "egov_unavailable"
    if isinstance(error, httpx.HTTPStatusError | ValueError):
        # It answered, but not as the protocol says (a 4xx page, a body that is not a JSON
        # object): trying again will not help, so it is not "unavailable".
        log.warning("e-gov portal answered malformed: %s", type(error).__name__)
        return "egov_refused"
    if isinstance(error, JoseError):
        log.warning("e-gov ID token refused: %s", type(error).__name__)
        if isinstance(error, ExpiredTokenError):
            return "egov_token_expired"
        if isinstance(error, ClaimError):
            # A missing or wrong exp is a malformed token, not an expired one.
            return _CLAIM_CODES.get(error.claim, "egov_token_invalid")
        if isinstance(error, BadSignatureError | InvalidKeyIdError | DecodeError):
            return "egov_token_signature"
        return "egov_token_invalid"
    return None
