#!/usr/bin/env python3
"""A loopback SMTP server for the delivery tests (aiosmtpd).

Usage: smtp_server.py <jsonl path> <port file>
Listens on 127.0.0.1 on a free port (written to <port file> once listening)
and appends one JSON line per accepted message: {"at", "mail_from", "rcpt",
"data"}. Behaviour by recipient local part:
  ...tempfail...  451 at RCPT on the first attempt for that address, then accepted
  ...bounce...    550 at RCPT
  ...slow...      the message is written, then the reply waits 1.5 s
  anything else   accepted
"""
import asyncio
import json
import sys
import time

from aiosmtpd.smtp import SMTP

log_path, port_path = sys.argv[1], sys.argv[2]
tempfail_seen = {}
log_file = open(log_path, "a")


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if "bounce" in local:
            return "550 5.1.1 no such mailbox"
        if "tempfail" in local:
            n = tempfail_seen.get(address, 0)
            tempfail_seen[address] = n + 1
            if n == 0:
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        record = {"at": time.time(), "mail_from": envelope.mail_from, "rcpt": envelope.rcpt_tos,
                  "data": envelope.content.decode("utf-8", "replace")}
        log_file.write(json.dumps(record) + "\n")
        log_file.flush()  # written before the reply: the kill -9 test counts on it
        if any("slow" in r.split("@")[0].lower() for r in envelope.rcpt_tos):
            await asyncio.sleep(1.5)
        return "250 2.0.0 queued as test"


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler(), hostname="test.invalid"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(port_path + ".tmp", "w") as f:
        f.write(str(port))
    import os
    os.rename(port_path + ".tmp", port_path)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
