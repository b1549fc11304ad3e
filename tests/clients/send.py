#!/usr/bin/env python3
"""Send Segment calls through the real Python SDK (segment-analytics-python).

Usage: send.py [--gzip] HOST WRITE_KEY CALLS.json

HOST       base URL of the server, e.g. http://127.0.0.1:8080 (the SDK posts to HOST/v1/batch)
WRITE_KEY  the Segment write key
CALLS.json a JSON array of calls, e.g.
           [{"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
            {"type": "track", "anonymousId": "a1", "event": "signed_up",
             "properties": {}, "timestamp": "2026-01-01T00:00:00Z", "messageId": "m-1"}]

Supported types: identify, track, page, screen, group, alias.
Exit status: 0 when every call was delivered, 1 when the SDK reported a
delivery error (printed to stderr), 2 on bad usage or an invalid call.
"""

import json
import os
import sys
import threading
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
PYDEPS = os.path.join(HERE, ".pydeps")
if os.path.isdir(PYDEPS):
    sys.path.insert(0, PYDEPS)

from segment.analytics import Client  # noqa: E402

# Give up on the whole run after this many seconds, whatever the SDK is doing.
DEADLINE_SECONDS = float(os.environ.get("SEND_DEADLINE_SECONDS", "20"))


def fail(code, message):
    print(f"send.py: {message}", file=sys.stderr, flush=True)
    os._exit(code)


def parse_timestamp(value):
    if value is None:
        return None
    # Python 3.11's fromisoformat accepts a trailing "Z".
    return datetime.fromisoformat(value)


def dispatch(client, call):
    kind = call.get("type")
    common = {
        "context": call.get("context"),
        "timestamp": parse_timestamp(call.get("timestamp")),
        "integrations": call.get("integrations"),
        "message_id": call.get("messageId"),
    }
    ids = {"user_id": call.get("userId"), "anonymous_id": call.get("anonymousId")}
    if kind == "identify":
        return client.identify(traits=call.get("traits"), **ids, **common)
    if kind == "track":
        return client.track(event=call.get("event"), properties=call.get("properties"), **ids, **common)
    if kind in ("page", "screen"):
        method = client.page if kind == "page" else client.screen
        return method(name=call.get("name"), category=call.get("category"), properties=call.get("properties"), **ids, **common)
    if kind == "group":
        return client.group(group_id=call.get("groupId"), traits=call.get("traits"), **ids, **common)
    if kind == "alias":
        return client.alias(previous_id=call.get("previousId"), user_id=call.get("userId"), **common)
    raise ValueError(f"unknown call type {kind!r}")


def main(argv):
    gzip = False
    args = list(argv[1:])
    if args and args[0] == "--gzip":
        gzip = True
        args.pop(0)
    if len(args) != 3:
        fail(2, "usage: send.py [--gzip] HOST WRITE_KEY CALLS.json")
    host, write_key, calls_path = args
    with open(calls_path, encoding="utf-8") as f:
        calls = json.load(f)
    if not isinstance(calls, list):
        fail(2, "CALLS.json must hold a JSON array")

    errors = []

    def on_error(error, batch):
        errors.append(error)
        print(f"send.py: delivery failed for {len(batch)} message(s): {error!r}", file=sys.stderr, flush=True)

    watchdog = threading.Timer(DEADLINE_SECONDS, fail, args=(1, f"gave up: not delivered within {DEADLINE_SECONDS:g}s"))
    watchdog.daemon = True
    watchdog.start()

    client = Client(
        write_key,
        host=host,
        on_error=on_error,
        gzip=gzip,
        # Fail fast against a broken server: one retry, short timeouts and budgets.
        max_retries=1,
        timeout=5,
        max_total_backoff_duration=3,
        max_rate_limit_duration=3,
        upload_interval=0.05,
    )
    for i, call in enumerate(calls):
        try:
            ok, _msg = dispatch(client, call)
        except Exception as e:  # invalid call: the SDK validates before queueing
            fail(2, f"call {i} rejected by the SDK: {e}")
        if not ok:
            fail(1, f"call {i} not queued (queue full)")
    client.flush()
    client.join()
    watchdog.cancel()

    if errors:
        print(f"send.py: {len(errors)} delivery error(s)", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
