"""A TLS 1.3 server on 127.0.0.1 that requires a client certificate from a CA and, as a
TLS terminator that does not linger, hangs up the moment it refuses one: its alert goes
out, and whatever the client wrote meanwhile is left unread, so the kernel answers with a
reset. A certificate it accepts gets a connection held open and nothing more.

Run as a process of its own (hostile_peers.PeerProcess), so that its timing is a real
server's: `python mtls_refuser.py SERVER_PEM CA_PEM` prints the port, serves until killed.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading


def refuse(conn: socket.socket, context: ssl.SSLContext) -> None:
    """One connection: the handshake, and a hang-up at once if it fails."""
    with contextlib.suppress(OSError):
        tls = context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        with tls:
            tls.settimeout(30)
            with contextlib.suppress(ssl.SSLError):
                tls.do_handshake()
                tls.recv(1)  # accepted: hold the connection until the client hangs up


def main(server_pem: str, ca_pem: str) -> None:
    """Serve until killed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_pem)
    context.load_verify_locations(ca_pem)
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_3  # the version where the race exists
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=refuse, args=(conn, context), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
