"""A real SMTP server for Kurslogg's tests (aiosmtpd), keeping every message it accepts.

    python3 tests/smtp/sink.py --port PORT --dir DIR [--delay SECONDS]
                               [--tls-cert CERT --tls-key KEY [--implicit-tls]]
                               [--auth USER:PASSWORD]

Each accepted message is written to DIR as NAME.eml (as received) and NAME.json (the
envelope, and the Message-ID, subject, plain-text and HTML parts decoded), the JSON
last, so a reader that sees the JSON sees a whole message. Recipients whose local part
starts with "reject" are refused with 550 (permanent), "defer" with 451 (transient).
--delay waits before answering each message's data (a slow server). --tls-cert/--tls-key
offer STARTTLS and require it, or with --implicit-tls speak TLS from the first byte (as on
port 465); --auth requires login with those credentials.
Prints "ready" when it listens.
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory, delay):
        self.directory = directory
        self.delay = delay
        self.counter = itertools.count()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: no such mailbox" % address
        if local.startswith("defer"):
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {}
        for kind in ("plain", "html"):
            part = message.get_body(preferencelist=(kind,))
            parts[kind] = part.get_content() if part is not None else None
        name = "%d-%06d" % (os.getpid(), next(self.counter))
        eml = os.path.join(self.directory, name + ".eml")
        meta = os.path.join(self.directory, name + ".json")
        with open(eml + ".partial", "wb") as f:
            f.write(raw)
        os.rename(eml + ".partial", eml)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "message_id": str(message.get("Message-ID", "")),
            "subject": str(message.get("Subject", "")),
            "to": str(message.get("To", "")),
            "from": str(message.get("From", "")),
            "content_type": message.get_content_type(),
            "text": parts["plain"],
            "html": parts["html"],
            # STARTTLS sets session.ssl; implicit TLS shows on the transport.
            "tls": session.ssl is not None
            or (server.transport is not None and server.transport.get_extra_info("ssl_object") is not None),
            "authenticated": bool(getattr(session, "authenticated", False)),
        }
        with open(meta + ".partial", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(meta + ".partial", meta)
        return "250 2.0.0 accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    options = {}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.implicit_tls:
            options.update(ssl_context=context)
        else:
            options.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            return AuthResult(success=ok)

        options.update(authenticator=authenticator, auth_required=True)

    controller = Controller(Sink(args.dir, args.delay), hostname="127.0.0.1", port=args.port,
                            server_hostname="localhost", **options)
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.get_event_loop().run_forever() if False else __import__("signal").pause()
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
