"""What every requests-based adapter shares: a hardened Session, and the exception chain
that requests and urllib3 wrap a network failure in."""

from __future__ import annotations

import http.cookiejar

import requests
import requests.adapters


def hardened_session(adapter: requests.adapters.HTTPAdapter) -> requests.Session:
    """A Session that speaks only HTTPS (through `adapter`) and takes nothing from the
    environment or from earlier responses:

    - `trust_env = False`: otherwise REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would replace the
      configured CA (requests issue 3829), and proxies and ~/.netrc credentials from the
      environment would apply. Configuration comes from config.py alone.
    - cookies refused: each exchange is self-contained; no state carries between sends.
    - only https:// has an adapter, so a plain-HTTP URL can never be sent.
    """
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    session.adapters.clear()
    session.mount("https://", adapter)
    return session


def exception_chain(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception it wraps, outermost first: causes, contexts, urllib3's
    `reason` and exceptions passed as arguments (requests and urllib3 use all four)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 32:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(current.args)
        todo.extend(e for e in linked if isinstance(e, BaseException))
    return seen
