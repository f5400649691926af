"""A real SMTP server for sitrep-notify's tests (aiosmtpd on 127.0.0.1).

Usage: python3 smtp_server.py PORT [USER:PASSWORD]

Answers by recipient: `tempfail...@` gets 451 (transient), `permfail...@` gets 550
(permanent), anyone else is accepted. Every accepted message is printed to stdout as one
JSON line; "READY" is printed once the server listens. The server stops when stdin
closes, so it never outlives the test that started it. With USER:PASSWORD the server
requires AUTH (PLAIN or LOGIN, allowed without TLS since this is loopback) and answers
535 to other credentials.
"""

import json
import sys

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
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


def authenticator_for(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        # handled=False: aiosmtpd then answers 535 itself (its default, True, sends nothing).
        return AuthResult(success=ok, handled=False)

    return authenticate


def main():
    port = int(sys.argv[1])
    kwargs = {}
    if len(sys.argv) > 2:
        user, password = sys.argv[2].split(":", 1)
        kwargs = {
            "authenticator": authenticator_for(user, password),
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
