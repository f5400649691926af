"""A real SMTP server for sitrep-notify's tests (aiosmtpd on 127.0.0.1).

Usage: python3 smtp_server.py PORT

Answers by recipient: `tempfail...@` gets 451 (transient), `permfail...@` gets 550
(permanent), anyone else is accepted. Every accepted message is printed to stdout as one
JSON line; "READY" is printed once the server listens. The server stops when stdin
closes, so it never outlives the test that started it.
"""

import json
import sys

try:
    from aiosmtpd.controller import Controller
except ImportError:
    print("MISSING aiosmtpd: install it with `python3 -m pip install aiosmtpd`", flush=True)
    sys.exit(3)


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("tempfail"):
            return "451 4.3.0 Mailbox busy, try again later"
        if local.startswith("permfail"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        print(
            json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos, "data": content}),
            flush=True,
        )
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
