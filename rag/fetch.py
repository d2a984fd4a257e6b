"""Fetch: download one web page as an article, never from an address a server must not reach.

Only ``http`` and ``https``. On every hop (redirects are followed here, one at a time) the host
name is resolved once and each address it has must be public: loopback, private, link-local,
cloud metadata, shared, multicast and reserved ranges are refused before any connection is made,
and the connection then goes to the address that was checked, so a second lookup cannot swap it.
Pages are capped in size and in time. HTML is reduced to its title and paragraphs by trafilatura
(``webpage.py``); plain text is kept as it is. This module does not index anything.
"""
from __future__ import annotations

import ipaddress
import socket
import ssl
import time
import urllib.parse

from .articles import Article, decode_text, make_article
from .errors import ArticleError, FetchError, InputError
from .webpage import page_text

MAX_REDIRECTS = 5
TIMEOUT = 15.0  # seconds for the whole fetch, every hop included
MAX_URL = 2000
# Special-purpose blocks this Python's ipaddress still calls global: IETF protocol assignments (192.0.0.8, ...)
# and deprecated IPv6 site-local addresses (fec0::/10, routed inside a site like private ones).
_NOT_PUBLIC = [ipaddress.ip_network(n) for n in ("192.0.0.0/24", "fec0::/10")]
_METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")}
_PAGES = {"text/html", "application/xhtml+xml"}
_TEXTS = {"text/plain", "text/markdown", "text/x-markdown"}
_REDIRECTS = {301, 302, 303, 307, 308}


def refusal(address: str, allow_loopback: bool = False) -> str | None:
    """Return why a server must not connect to ``address``, or None if it may.

    Example: '10.0.0.1' -> 'a private address'; '169.254.169.254' -> 'a cloud metadata address';
    '93.184.216.34' -> None. ``allow_loopback`` (tests only) lets 127.0.0.0/8 and ::1 through.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip.is_reserved:
        return "a reserved address"
    if ip.is_private or any(ip in network for network in _NOT_PUBLIC if network.version == ip.version):
        return "a private address"
    if not ip.is_global:
        return "an address that is not public"
    return None


def check_url(url: str) -> urllib.parse.SplitResult:
    """Return the parts of ``url`` if it is an http(s) address with a host; raise InputError if not."""
    if not isinstance(url, str) or not url.strip():
        raise InputError("The URL is empty; give the address of a web page.")
    if len(url) > MAX_URL:
        raise InputError(f"The URL is {len(url)} characters long; keep it under {MAX_URL}.")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        raise InputError("The URL is not a valid web address.") from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = f"{parts.scheme}:" if parts.scheme else "no scheme"
        raise InputError(f"Only http and https addresses can be fetched, not {scheme}.")
    if not parts.hostname:
        raise InputError("The URL has no host name; give an address such as https://example.com/story.")
    if parts.username or parts.password:
        raise InputError("The URL holds a user name or password; give the address without them.")
    return parts


def resolve(host: str, port: int, allow_loopback: bool = False) -> str:
    """Return an address of ``host`` to connect to; raise InputError if any of its addresses is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(f"The host name {host[:100]} could not be found.") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        reason = refusal(address, allow_loopback)
        if reason:
            raise InputError(f"{host[:100]} is {reason} ({address}); only public web addresses can be fetched.")
    if not addresses:
        raise FetchError(f"The host name {host[:100]} has no address.")
    return addresses[0]


def fetch_article(url: str, max_bytes: int, allow_loopback: bool = False, timeout: float = TIMEOUT) -> Article:
    """Fetch the page at ``url`` (following up to 5 checked redirects) and return it as an article."""
    import urllib3

    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        parts = check_url(url)
        secure = parts.scheme.lower() == "https"
        host = parts.hostname or ""
        address = resolve(host, parts.port or (443 if secure else 80), allow_loopback)
        pool, response = _pool(parts, address, deadline), None
        try:
            response = _get(pool, parts)
            if response.status in _REDIRECTS and response.headers.get("Location"):
                url = urllib.parse.urljoin(url, response.headers["Location"])
                continue
            if response.status != 200:
                raise FetchError(f"{_short(url)} answered {response.status} {response.reason or ''}".rstrip() + ".")
            body = _read(response, max_bytes, deadline, url)
        except urllib3.exceptions.HTTPError as error:
            raise FetchError(f"{_short(url)} could not be fetched ({type(error).__name__}).") from None
        finally:
            if response is not None:
                response.close()  # the connection is never reused: each hop gets a new, checked one
            pool.close()
        return _article(url, body, response.headers.get("Content-Type", ""))
    raise FetchError(f"{_short(url)} redirects more than {MAX_REDIRECTS} times.")


def _pool(parts: urllib.parse.SplitResult, address: str, deadline: float):  # type: ignore[no-untyped-def]
    """Return a connection pool to the checked ``address`` that names the URL's own host in TLS."""
    import urllib3

    left = max(deadline - time.monotonic(), 0.1)
    timeout = urllib3.Timeout(connect=min(left, 5.0), read=min(left, 10.0))
    host = parts.hostname or ""
    if parts.scheme.lower() == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address, parts.port or 443, timeout=timeout, retries=False, server_hostname=host,
            assert_hostname=host, ssl_context=ssl.create_default_context())
    else:
        pool = urllib3.HTTPConnectionPool(address, parts.port or 80, timeout=timeout, retries=False)
    return pool


def _get(pool, parts: urllib.parse.SplitResult):  # type: ignore[no-untyped-def]
    """Send the GET, with the URL's own host name in Host, following no redirect."""
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": "rag-news (article fetch)",
               "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1"}
    return pool.urlopen("GET", target, headers=headers, redirect=False, retries=False, preload_content=False)


def _read(response, max_bytes: int, deadline: float, url: str) -> bytes:  # type: ignore[no-untyped-def]
    """Read the body, decompressed, refusing it once it passes ``max_bytes`` or the deadline."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ArticleError(f"{_short(url)} is {int(declared) / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB "
                           "limit for one article.")
    body = bytearray()
    while chunk := response.read1(65536):
        body += chunk
        if len(body) > max_bytes:
            raise ArticleError(f"{_short(url)} is over the {max_bytes / 1e6:.1f} MB limit for one article.")
        if time.monotonic() > deadline:
            raise FetchError(f"{_short(url)} took too long to send; try again later.")
    response.release_conn()
    return bytes(body)


def _article(url: str, body: bytes, content_type: str) -> Article:
    media, _, parameters = content_type.partition(";")
    media = media.strip().lower() or ("text/html" if body.lstrip()[:1] == b"<" else "text/plain")
    if media not in _PAGES | _TEXTS:
        raise ArticleError(f"{_short(url)} is {media}, not a web page or text; copy its text and paste it instead.")
    charset = parameters.partition("charset=")[2].strip().strip('"').lower()
    try:
        text = body.decode(charset) if charset else decode_text(body, _short(url))
    except (LookupError, UnicodeDecodeError):
        text = decode_text(body, _short(url))
    if media in _PAGES and text.strip():
        text = page_text(text, _short(url))
    if not text.strip():
        raise ArticleError(f"{_short(url)} has no text.")
    name = urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or (urllib.parse.urlsplit(url).hostname or "")
    return make_article(text, url, name)


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."
