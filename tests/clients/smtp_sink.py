#!/usr/bin/env python3
"""A real SMTP server for the delivery tests (aiosmtpd).

Usage: smtp_sink.py PORT OUT.jsonl [--starttls CERT KEY | --tls CERT KEY]
                                    [--auth USER:PASSWORD]

Listens on 127.0.0.1:PORT and appends one JSON object per message it
accepts to OUT.jsonl: {"mail_from", "rcpt_tos", "data", "tls", "login"}
(data as text; tls: whether the session was encrypted; login: the user
it authenticated as, or null). With --starttls the server offers STARTTLS
and refuses mail before it; with --tls it speaks TLS from the first byte;
with --auth it refuses mail from a client that did not log in as USER
with PASSWORD. Prints "ready" once it listens; runs until killed.
"""

import json
import os
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYDEPS = os.path.join(HERE, ".pydeps")
if os.path.isdir(PYDEPS):
    sys.path.insert(0, PYDEPS)

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult  # noqa: E402


class Sink:
    def __init__(self, path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        line = json.dumps(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "data": envelope.content.decode("utf-8", "replace"),
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "login": (
                    session.auth_data.login.decode()
                    if session.authenticated
                    else None
                ),
            }
        )
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == user and auth_data.password == password
        return AuthResult(success=ok, auth_data=auth_data)

    return check


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    args = sys.argv[3:]
    options = {}
    while args:
        flag = args.pop(0)
        if flag in ("--starttls", "--tls"):
            cert, key = args.pop(0), args.pop(0)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            if flag == "--starttls":
                options["tls_context"] = context
                options["require_starttls"] = True
            else:
                options["ssl_context"] = context
                # aiosmtpd counts only STARTTLS as TLS when it guards AUTH.
                options["auth_require_tls"] = False
        elif flag == "--auth":
            user, password = args.pop(0).split(":", 1)
            options["authenticator"] = authenticator(user.encode(), password.encode())
            options["auth_required"] = True
        else:
            sys.exit(f"unknown option {flag}")
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port, **options)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
