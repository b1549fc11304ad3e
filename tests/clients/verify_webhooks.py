#!/usr/bin/env python3
"""Verifies webhook requests with the Standard Webhooks reference library.

Usage: verify_webhooks.py SECRET < requests.jsonl

Each input line is {"headers": {...}, "body": "..."}; each output line is
"ok" or "bad: REASON", in the same order.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYDEPS = os.path.join(HERE, ".pydeps")
if os.path.isdir(PYDEPS):
    sys.path.insert(0, PYDEPS)

from standardwebhooks.webhooks import Webhook  # noqa: E402


def main():
    webhook = Webhook(sys.argv[1])
    for line in sys.stdin:
        request = json.loads(line)
        try:
            webhook.verify(request["body"], request["headers"])
            print("ok")
        except Exception as e:  # noqa: BLE001 - every failure is reported
            print(f"bad: {e}")


if __name__ == "__main__":
    main()
