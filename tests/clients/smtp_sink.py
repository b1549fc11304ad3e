#!/usr/bin/env python3
"""A real SMTP server for the delivery tests (aiosmtpd).

Usage: smtp_sink.py PORT OUT.jsonl

Listens on 127.0.0.1:PORT and appends one JSON object per message it
accepts to OUT.jsonl: {"mail_from", "rcpt_tos", "data"} (data as text).
Prints "ready" once it listens; runs until killed.
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYDEPS = os.path.join(HERE, ".pydeps")
if os.path.isdir(PYDEPS):
    sys.path.insert(0, PYDEPS)

from aiosmtpd.controller import Controller  # noqa: E402


class Sink:
    def __init__(self, path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        line = json.dumps(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "data": envelope.content.decode("utf-8", "replace"),
            }
        )
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        return "250 OK"


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
