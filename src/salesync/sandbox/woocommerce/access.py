"""Who is calling: a REST API key over HTTP Basic or in the query string.

WooCommerce takes the consumer key and secret as HTTP Basic credentials over HTTPS, or as
``consumer_key`` / ``consumer_secret`` query parameters for servers that do not pass the
Authorization header on (https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication-over-https).
A key it does not know is ``woocommerce_rest_authentication_error``; a request with no key
is served as a visitor's, which may not list orders (``woocommerce_rest_cannot_list``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping

from salesync.sandbox.woocommerce import errors
from salesync.sandbox.woocommerce.store import ApiKey, WooShop


def _credentials(authorization: str | None, query: Mapping[str, str]) -> tuple[str, str] | None:
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise errors.bad_key() from None
        key, _, secret = decoded.partition(":")
        return key, secret
    if "consumer_key" in query:
        return query["consumer_key"], query.get("consumer_secret", "")
    return None


def caller(
    shop: WooShop, authorization: str | None, query: Mapping[str, str], action: str
) -> ApiKey:
    """The key making the request, or the error WooCommerce answers with."""
    given = _credentials(authorization, query)
    if given is None:
        raise errors.cannot(action)
    key_text, secret = given
    with shop.lock:
        key = shop.keys.get(key_text)
    if key is None:
        raise errors.bad_key()
    if not hmac.compare_digest(key.consumer_secret.encode(), secret.encode()):
        raise errors.bad_signature()
    if not key.may(write=action not in ("list", "view")):
        raise errors.cannot(action)
    return key


def basic_authorization(key: ApiKey) -> str:
    """The Authorization header value for ``key``."""
    raw = f"{key.consumer_key}:{key.consumer_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()
