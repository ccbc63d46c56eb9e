"""The reverse proxies of packaging/reverse-proxy/ (nginx, Caddy, Apache httpd, HAProxy), each started
from its shipped file on loopback in front of a bridge, for the tests.

Only what ties the file to one machine is changed: the listen address and port, the certificate paths,
the bridge's address, and the log, pid and temporary paths. The routing, limits, headers and timeouts
are the shipped ones, so a test through the proxy tests the example an administrator copies. Each
substitution checks that its text is still in the file, so an edited example fails loudly here instead
of being tested as something else. A proxy whose program is missing is an error, never a skip
(packaging/install-dev-deps.sh installs them). Nothing is written outside the test's folder: the
proxies' system services are never involved, and Caddy's home and data go to the folder too.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bridge.testing import listening, stop_child
from bridge.testing.slapd import find_free_port

EXAMPLES = Path(__file__).resolve().parents[1] / "packaging" / "reverse-proxy"
PUBLIC_HOST = "scim.example.com"  # the name in the examples; the tests' client asks for it (SNI, Host)
SHIPPED_BRIDGE = "127.0.0.1:8080"
SHIPPED_FULLCHAIN = "/etc/ssl/scim-ldap-bridge/fullchain.pem"
SHIPPED_PRIVKEY = "/etc/ssl/scim-ldap-bridge/privkey.pem"
SHIPPED_COMBINED = "/etc/ssl/scim-ldap-bridge/haproxy.pem"
PROXIES = ("nginx", "caddy", "apache", "haproxy")


class ProxyFailed(RuntimeError):
    """A proxy's program is missing, or it exited or did not listen in time; with its output."""


@dataclass(frozen=True)
class Certificate:
    """A throwaway CA (``ca``, for the client to trust) and a certificate for PUBLIC_HOST that it signed:
    the chain and key as separate files (``fullchain``, ``privkey``) and as one (``combined``, HAProxy)."""

    ca: Path
    fullchain: Path
    privkey: Path
    combined: Path


def make_certificate(folder: Path) -> Certificate:
    """A CA and a server certificate for PUBLIC_HOST in ``folder``, valid for a day."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scim-ldap-bridge test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PUBLIC_HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(PUBLIC_HOST)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = server.public_bytes(pem) + ca.public_bytes(pem)
    private = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    files = Certificate(
        folder / "ca.pem", folder / "fullchain.pem", folder / "privkey.pem", folder / "combined.pem"
    )
    files.ca.write_bytes(ca.public_bytes(pem))
    files.fullchain.write_bytes(chain)
    files.privkey.write_bytes(private)
    files.combined.write_bytes(chain + private)
    return files


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class Setup:
    """Where one proxy runs: its folder, its loopback port, the bridge's port and the certificate."""

    folder: Path
    port: int
    bridge_port: int
    certificate: Certificate


@dataclass(frozen=True)
class Launch:
    """How to run a configured proxy, and the file its access lines go to (None: it keeps none)."""

    argv: list[str]
    access_log: Path | None
    env: dict[str, str] | None = None


@dataclass
class Proxy:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    output: Path
    access_log: Path | None

    def access_lines(self, *awaited: str) -> str:
        """What the proxy logged of the requests so far ('' for a proxy that keeps no access log), once
        each of ``awaited`` is in it or after 5 s: a proxy writes a request's line after answering it."""
        deadline = time.monotonic() + 5
        while True:
            text = self.access_log.read_text() if self.access_log and self.access_log.exists() else ""
            if all(item in text for item in awaited) or time.monotonic() > deadline:
                return text
            time.sleep(0.02)


def substitute(text: str, replacements: dict[str, str]) -> str:
    """``text`` with each key replaced by its value; each key must be in it."""
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"the shipped example no longer contains {old!r}: update tests/proxies.py")
        text = text.replace(old, new)
    return text


def program(name: str) -> str:
    """The path of a proxy's program; a missing one is an error (the tests need every proxy)."""
    found = shutil.which(name) or next(
        (path for path in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(path, os.X_OK)), None
    )
    if not found:
        raise ProxyFailed(
            f"{name} is missing: packaging/install-dev-deps.sh installs it from Debian's packages"
        )
    return found


def _nginx(setup: Setup) -> Launch:
    folder, cert = setup.folder, setup.certificate
    site = substitute(
        (EXAMPLES / "nginx.conf").read_text(),
        {
            "listen 443 ssl;": f"listen 127.0.0.1:{setup.port} ssl;",
            "listen [::]:443 ssl;": f"listen [::1]:{setup.port} ssl;",
            SHIPPED_FULLCHAIN: str(cert.fullchain),
            SHIPPED_PRIVKEY: str(cert.privkey),
            SHIPPED_BRIDGE: f"127.0.0.1:{setup.bridge_port}",
            "/var/log/nginx/": f"{folder}/",
        },
    )
    (folder / "site.conf").write_text(site)
    temp = " ".join(
        f"{kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would run as nobody, who cannot enter the test's folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n  {temp}\n  access_log off;\n  include {folder}/site.conf;\n}}\n"
    )
    argv = [program("nginx"), "-p", f"{folder}/", "-c", f"{folder}/nginx.conf", "-e", f"{folder}/error.log"]
    return Launch(argv, folder / "scim-ldap-bridge.access.log")


def _caddy(setup: Setup) -> Launch:
    folder, cert = setup.folder, setup.certificate
    # Global options added to the example's own, in place of port 443 and the machine's own Caddy state:
    # no admin endpoint, no trust store touched, on loopback only.
    options = (
        "\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n\tdefault_bind 127.0.0.1\n"
        f"\thttp_port {find_free_port()}\n\thttps_port {setup.port}\n"
        f"\tstorage file_system {folder}/data\n"
    )
    site = substitute(
        (EXAMPLES / "Caddyfile").read_text(),
        {
            "\n{\n\tservers {": f"\n{{\n{options}\tservers {{",
            SHIPPED_FULLCHAIN: str(cert.fullchain),
            SHIPPED_PRIVKEY: str(cert.privkey),
            SHIPPED_BRIDGE: f"127.0.0.1:{setup.bridge_port}",
        },
    )
    (folder / "Caddyfile").write_text(site)
    home = {"HOME": str(folder), "XDG_DATA_HOME": f"{folder}/data", "XDG_CONFIG_HOME": f"{folder}/config"}
    argv = [program("caddy"), "run", "--config", f"{folder}/Caddyfile", "--adapter", "caddyfile"]
    return Launch(argv, None, {**os.environ, **home})


# Loaded beside the modules the example's own install line enables (so a module missing from that line
# fails here): an MPM, authz_core (Debian's default) and socache_shmcb (which a2enmod ssl enables too).
APACHE_BASE_MODULES = ("mpm_event", "authz_core", "socache_shmcb")


def apache_modules(example: str) -> list[str]:
    """The modules of the example's `a2enmod ...` line (over its comment lines), after the base ones."""
    comments = " ".join(line.lstrip("# ") for line in example.splitlines() if line.startswith("#"))
    found = re.search(r"`a2enmod ([a-z_ ]+)`", comments)
    if not found:
        raise AssertionError("the Apache example no longer says which modules to enable (`a2enmod ...`)")
    return [*APACHE_BASE_MODULES, *found.group(1).split()]


def _apache(setup: Setup) -> Launch:
    folder, cert = setup.folder, setup.certificate
    example = (EXAMPLES / "apache.conf").read_text()
    site = substitute(
        example,
        {
            "<VirtualHost *:443>": f"<VirtualHost 127.0.0.1:{setup.port}>",
            SHIPPED_FULLCHAIN: str(cert.fullchain),
            SHIPPED_PRIVKEY: str(cert.privkey),
            SHIPPED_BRIDGE: f"127.0.0.1:{setup.bridge_port}",
        },
    )
    (folder / "site.conf").write_text(site)
    # A DocumentRoot with a page in it: the example must answer 404 instead of serving it.
    (folder / "www").mkdir()
    (folder / "www" / "index.html").write_text("the DocumentRoot\n")
    modules = "".join(
        f"LoadModule {name}_module /usr/lib/apache2/modules/mod_{name}.so\n"
        for name in apache_modules(example)
    )
    # As root, the children would run as nobody; semaphores keep them out of the test's folder.
    user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
    (folder / "httpd.conf").write_text(
        f"ServerRoot {folder}\nDefaultRuntimeDir {folder}\nPidFile {folder}/httpd.pid\nMutex sem\n"
        f"ErrorLog {folder}/error.log\nServerName localhost\nDefine APACHE_LOG_DIR {folder}\n{user}{modules}"
        f"DocumentRoot {folder}/www\n<Directory {folder}/www>\n  Require all granted\n</Directory>\n"
        f"Listen 127.0.0.1:{setup.port} https\nInclude {folder}/site.conf\n"
    )
    argv = [program("apache2"), "-f", f"{folder}/httpd.conf", "-DFOREGROUND"]
    return Launch(argv, folder / "scim-ldap-bridge.access.log")


def _haproxy(setup: Setup) -> Launch:
    folder, cert = setup.folder, setup.certificate
    sections = substitute(
        (EXAMPLES / "haproxy.cfg").read_text(),
        {
            ":::443 v4v6": f"127.0.0.1:{setup.port}",
            SHIPPED_COMBINED: str(cert.combined),
            SHIPPED_BRIDGE: f"127.0.0.1:{setup.bridge_port}",
        },
    )
    (folder / "scim.cfg").write_text(sections)
    # What Debian's /etc/haproxy/haproxy.cfg puts before them (log global in the defaults), logging to
    # stderr instead of syslog.
    (folder / "haproxy.cfg").write_text(
        "global\n    log stderr format raw local0\ndefaults\n    log global\n"
    )
    argv = [program("haproxy"), "-db", "-f", f"{folder}/haproxy.cfg", "-f", f"{folder}/scim.cfg"]
    return Launch(argv, folder / "output.log")


LAUNCHERS: dict[str, Callable[[Setup], Launch]] = {
    "nginx": _nginx,
    "caddy": _caddy,
    "apache": _apache,
    "haproxy": _haproxy,
}


@contextmanager
def running(name: str, folder: Path, bridge_port: int, certificate: Certificate) -> Iterator[Proxy]:
    """Proxy ``name`` (one of PROXIES) from its shipped example, on a free loopback port in front of
    the bridge on ``bridge_port``, until the block ends."""
    folder.mkdir(parents=True)
    setup = Setup(folder, find_free_port(), bridge_port, certificate)
    launch = LAUNCHERS[name](setup)
    output = folder / "output.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            launch.argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, env=launch.env
        )
    try:
        _wait_until_listening(name, setup.port, process, folder)
        yield Proxy(name, setup.port, process, output, launch.access_log)
    finally:
        stop_child(process, 10)


def _wait_until_listening(name: str, port: int, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProxyFailed(f"{name} exited with {process.returncode}:\n{_logs(folder)}")
        if listening(port):
            return
        time.sleep(0.02)
    raise ProxyFailed(f"{name} did not listen on 127.0.0.1:{port} within 10 s:\n{_logs(folder)}")


def _logs(folder: Path) -> str:
    return "\n".join(
        f"--- {path.name}\n{path.read_text(errors='replace')}" for path in sorted(folder.glob("*.log"))
    )


CLIENT_ADDRESS = "127.0.0.2"  # not the proxies' own address, so the bridge's log shows whose it is


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class Client:
    """HTTPS to a proxy as Entra reaches it: the public name in SNI and Host (with the test's port),
    the test CA trusted, from CLIENT_ADDRESS. A new connection per request."""

    def __init__(self, port: int, certificate: Certificate) -> None:
        self.port = port
        self.origin = f"https://{PUBLIC_HOST}:{port}"
        self._context = ssl.create_default_context(cafile=str(certificate.ca))

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        chunked: bool = False,
    ) -> Answer:
        """One request; ``chunked`` sends the body without a length, in 64 KiB chunks."""
        raw = socket.create_connection(
            ("127.0.0.1", self.port), timeout=10, source_address=(CLIENT_ADDRESS, 0)
        )
        conn = http.client.HTTPSConnection(PUBLIC_HOST, self.port, context=self._context, timeout=10)
        conn.sock = self._context.wrap_socket(raw, server_hostname=PUBLIC_HOST)
        try:
            conn.putrequest(method, path)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if body is not None and chunked:
                conn.putheader("Transfer-Encoding", "chunked")
                body = _chunks(body)
            elif body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            if body is not None:
                # A proxy refusing a body may answer and close before all of it has arrived.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
                    conn.send(body)
            response = conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()


def _chunks(body: bytes, size: int = 65_536) -> bytes:
    """``body`` in HTTP/1.1 chunked encoding."""
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"
