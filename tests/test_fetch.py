"""URL fetching refuses what a server must not reach, without a packet leaving loopback.

The address check is tested directly; the fetch path runs under a socket guard that fails the test on
any connection outside 127.0.0.0/8, with the resolver patched so test names resolve to private
addresses. The positive cases fetch from a local HTTP server on 127.0.0.1, allowed by the test-only flag.
"""
from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
from collections.abc import Iterator

import pytest

from rag.errors import ArticleError, FetchError, InputError
from rag.fetch import check_url, fetch_article, refusal

PAGE = (b"<html><head><title>Harbour tunnel approved</title></head><body><nav>Home | World</nav><article>"
        b"<h1>Harbour tunnel approved</h1><p>The city council approved the harbour tunnel on Monday. "
        b"It will cost 480 million euros and open in 2031, said the engineer Maria Costa.</p>"
        b"<p>Work starts in the spring, and the old ferry line will close when the tunnel opens.</p>"
        b"</article><footer>Copyright</footer></body></html>")
REFUSED = {"10.0.0.1": "a private address", "172.16.0.1": "a private address", "192.168.0.1": "a private address",
           "169.254.169.254": "a cloud metadata address", "::1": "a loopback address"}
PRIVATE_NAMES = {"intranet.test": "10.0.0.1", "metadata.test": "169.254.169.254", "router.test": "192.168.0.1",
                 "loop.test": "::1"}


@pytest.mark.parametrize("address, reason", list(REFUSED.items()) + [
    ("127.0.0.1", "a loopback address"), ("::ffff:10.0.0.1", "a private address"), ("fe80::1", "a link-local address"),
    ("100.64.0.1", "an address that is not public"), ("0.0.0.0", "a reserved address"),
    ("224.0.0.1", "a multicast address"), ("fd00:ec2::254", "a cloud metadata address"),
    ("2002:a00:1::", "a private address"),  # 6to4 around 10.0.0.1
])
def test_the_address_check_refuses_non_public_ranges(address: str, reason: str):
    assert refusal(address) == reason


def test_public_addresses_pass_and_loopback_only_with_the_test_flag():
    assert refusal("93.184.216.34") is None and refusal("2606:4700::1111") is None
    assert refusal("127.0.0.1", allow_loopback=True) is None and refusal("::1", allow_loopback=True) is None
    assert refusal("10.0.0.1", allow_loopback=True) == "a private address"


@pytest.mark.parametrize("url, words", [
    ("file:///etc/passwd", "not file:"), ("ftp://example.com/a.txt", "not ftp:"), ("gopher://x/", "not gopher:"),
    ("javascript:alert(1)", "not javascript:"), ("data:text/plain,hi", "not data:"), ("example.com/story", "no scheme"),
    ("http:///nohost", "no host name"), ("http://user:pw@example.com/", "user name or password"),
    ("http://example.com:99999/", "not a valid"), ("", "empty"), ("http://" + "a" * 3000, "characters long"),
])
def test_only_http_and_https_urls(url: str, words: str):
    with pytest.raises(InputError, match=words):
        check_url(url)


@pytest.fixture()
def guard(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail on any connection outside loopback; make the test names resolve to private addresses."""
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_resolve = socket.getaddrinfo

    def connect(self, address):  # type: ignore[no-untyped-def]
        host = address[0] if isinstance(address, tuple) else address
        if not isinstance(host, str) or not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            attempts.append(str(address))
            raise AssertionError(f"a connection to {address} was attempted")
        return real_connect(self, address)

    def resolve(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host in PRIVATE_NAMES:
            address = PRIVATE_NAMES[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return real_resolve(host, port, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return attempts


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        routes = {
            "/story.html": (200, "text/html; charset=utf-8", PAGE),
            "/notes.txt": (200, "text/plain", "The ferry runs every hour, said Ana Ruiz.".encode()),
            "/paper.pdf": (200, "application/pdf", b"%PDF-1.4 binary"),
            "/big.txt": (200, "text/plain", b"word " * 400_000),
            "/empty.html": (200, "text/html", b"<html><body><script>x()</script></body></html>"),
        }
        if self.path.startswith("/to/"):  # /to/<host>/<path>: a redirect elsewhere
            self.send_response(302)
            self.send_header("Location", "http://" + self.path[4:])
            self.end_headers()
            return
        if self.path == "/loop":
            self.send_response(301)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        status, kind, body = routes.get(self.path, (404, "text/plain", b"not here"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if self.path != "/big.txt":  # the big one does not say how big it is
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("host", sorted(PRIVATE_NAMES))
def test_a_name_that_resolves_to_a_private_address_is_refused_before_connecting(guard: list[str], host: str):
    with pytest.raises(InputError, match=f"{host} is a .* address .*only public web addresses"):
        fetch_article(f"http://{host}/secret", 1_000_000)
    assert guard == []


def test_a_redirect_to_a_private_name_is_refused(guard: list[str], site: str):
    with pytest.raises(InputError, match="intranet.test is a private address"):
        fetch_article(f"{site}/to/intranet.test/admin", 1_000_000, allow_loopback=True)
    with pytest.raises(InputError, match="metadata.test is a cloud metadata address"):
        fetch_article(f"{site}/to/metadata.test/latest/meta-data/", 1_000_000, allow_loopback=True)
    assert guard == []


def test_loopback_is_refused_without_the_test_flag(guard: list[str], site: str):
    with pytest.raises(InputError, match="127.0.0.1 is a loopback address"):
        fetch_article(f"{site}/story.html", 1_000_000)


def test_a_page_and_a_text_are_fetched_from_a_local_server(guard: list[str], site: str):
    article = fetch_article(f"{site}/story.html", 1_000_000, allow_loopback=True)
    assert article.source == f"{site}/story.html" and article.title == "Harbour tunnel approved"
    assert "480 million euros" in article.text and "Home | World" not in article.text and "<" not in article.text
    notes = fetch_article(f"{site}/notes.txt", 1_000_000, allow_loopback=True)
    assert notes.text == "The ferry runs every hour, said Ana Ruiz."
    assert guard == []


@pytest.mark.parametrize("path, error, words", [
    ("/paper.pdf", ArticleError, "application/pdf, not a web page"),
    ("/big.txt", ArticleError, "over the 1.0 MB limit"),
    ("/empty.html", ArticleError, "no article text"),
    ("/missing", FetchError, "answered 404"),
    ("/loop", FetchError, "redirects more than 5 times"),
])
def test_bad_pages_are_refused_with_one_sentence(guard: list[str], site: str, path: str, error: type, words: str):
    with pytest.raises(error, match=words):
        fetch_article(f"{site}{path}", 1_000_000, allow_loopback=True)
    assert guard == []


def test_a_silent_server_times_out(guard: list[str]):
    with socket.socket() as listener:  # accepts the connection and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(FetchError, match="could not be fetched"):
            fetch_article(f"http://127.0.0.1:{port}/slow", 1_000_000, allow_loopback=True, timeout=1.0)


@pytest.mark.parametrize("address", ["fec0::1", "fec0:1::8", "192.0.0.8", "192.0.0.170"])
def test_site_local_and_protocol_assignment_addresses_are_refused(address: str):
    from rag.fetch import refusal

    assert refusal(address) == "a private address"
