#!/usr/bin/env python3
"""crmcall: call crmd from the command line (docs/PROTOCOL.md).

    python3 sdk/python/crmcall.py health                 # SERVING / NOT_SERVING
    python3 sdk/python/crmcall.py health crm.kernel.v1.Health
    python3 sdk/python/crmcall.py watch                  # Health.Watch until Ctrl-C
    python3 sdk/python/crmcall.py plugins                # Plugins.List, every page
    python3 sdk/python/crmcall.py services               # Reflection.ListServices
    python3 sdk/python/crmcall.py ping
    python3 sdk/python/crmcall.py call /pkg.Service/Method --hex 0a03616263 [-m key=value] [--stream]

The socket is --socket, else $CRM_SOCKET, else ./crm.sock.

Exit status: 0 on success (for `health`: the answer is SERVING), 1 when the
server answered but not as hoped (NOT_SERVING, SERVICE_UNKNOWN, a non-OK status
for `call`), 2 when the server could not be reached or broke the protocol.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crm  # noqa: E402  (the package next to this file)


def cmd_health(conn, args):
    health = crm.health_check(conn, args.service, timeout_s=args.timeout)
    print(health.status_name)
    if args.verbose or args.service:
        for entry in health.services:
            print("  %-40s %-12s %s" % (entry.service, entry.status_name, entry.plugin))
    return 0 if health.status == crm.ServingStatus.SERVING else 1


def cmd_watch(conn, args):
    updates = crm.health_watch(conn, args.service)
    try:
        for health in updates:
            print("%s %s" % (time.strftime("%H:%M:%S"), health.status_name), flush=True)
    except KeyboardInterrupt:
        updates.close()
    return 0


def cmd_plugins(conn, args):
    plugins = crm.list_plugins(conn, page_size=args.page_size)
    for plugin in plugins:
        line = "%-24s %-12s %-9s" % (plugin.name, plugin.version or "-", plugin.state_name)
        if plugin.reason:
            line += " " + plugin.reason
        print(line.rstrip())
        if args.verbose:
            if plugin.services:
                print("    services: " + ", ".join(plugin.services))
            print("    path: %s  abi: %d  load order: %d" % (plugin.path, plugin.abi_version, plugin.load_order))
    if not plugins:
        print("(no plugins)")
    return 0


def cmd_services(conn, args):
    for service in crm.list_services(conn, page_size=args.page_size):
        print("%s  (%s)" % (service.name, service.plugin))
        for method in service.methods:
            arrow = "stream " if method.server_streaming else ""
            print("    %s(%s) returns (%s%s)" % (method.full_name, method.request_type, arrow, method.response_type))
    return 0


def cmd_ping(conn, args):
    for i in range(args.count):
        started = time.monotonic()
        conn.ping(b"crmcall %d" % i, timeout=args.timeout or 10.0)
        print("PONG in %.3f ms" % ((time.monotonic() - started) * 1000))
    return 0


def _read_payload(args):
    if args.hex is not None:
        return bytes.fromhex(args.hex)
    if args.file == "-":
        return sys.stdin.buffer.read()
    if args.file:
        with open(args.file, "rb") as f:
            return f.read()
    return b""


def _write_payload(data, args):
    if args.out:
        with open(args.out, "ab") as f:
            f.write(data)
    else:
        print(data.hex() if data else "(empty)")


def cmd_call(conn, args):
    metadata = []
    for item in args.metadata:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit("crmcall: metadata must be key=value, not %r" % item)
        metadata.append((key, value))
    payload = _read_payload(args)
    if args.stream:
        call = conn.stream(args.method, payload, metadata, args.timeout)
        try:
            while True:
                message = call.next_message()
                if message is None:
                    break
                _write_payload(message, args)
        except KeyboardInterrupt:
            call.cancel()
            call.result(10.0)
        status, message = call.status, call.message
    else:
        status, message, response = conn.call(args.method, payload, metadata, args.timeout)
        if status == crm.StatusCode.OK:
            _write_payload(response, args)
    line = crm.status_name(status) + (": " + message if message else "")
    print(line, file=sys.stderr)
    return 0 if status == crm.StatusCode.OK else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="crmcall", description="Call crmd over its RPC socket.")
    parser.add_argument("-s", "--socket", help="socket path (default: $CRM_SOCKET, else ./crm.sock)")
    parser.add_argument("-t", "--timeout", type=float, help="call deadline in seconds (sent as timeout_us)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print more detail")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("health", help="crm.kernel.v1.Health/Check")
    p.add_argument("service", nargs="?", default="", help="a full service name; empty for the whole server")
    p.set_defaults(run=cmd_health)

    p = sub.add_parser("watch", help="crm.kernel.v1.Health/Watch")
    p.add_argument("service", nargs="?", default="")
    p.set_defaults(run=cmd_watch)

    p = sub.add_parser("plugins", help="crm.kernel.v1.Plugins/List")
    p.add_argument("--page-size", type=int, default=0)
    p.set_defaults(run=cmd_plugins)

    p = sub.add_parser("services", help="crm.kernel.v1.Reflection/ListServices")
    p.add_argument("--page-size", type=int, default=0)
    p.set_defaults(run=cmd_services)

    p = sub.add_parser("ping", help="PING the server")
    p.add_argument("-c", "--count", type=int, default=1)
    p.set_defaults(run=cmd_ping)

    p = sub.add_parser("call", help="call any method with a raw payload")
    p.add_argument("method", help='"/package.Service/Method"')
    source = p.add_mutually_exclusive_group()
    source.add_argument("--hex", help="request payload as hex")
    source.add_argument("--file", help="request payload from a file ('-' for stdin)")
    p.add_argument("-m", "--metadata", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--stream", action="store_true", help="the method is server-streaming")
    p.add_argument("-o", "--out", help="append response payloads to this file instead of printing hex")
    p.set_defaults(run=cmd_call)

    args = parser.parse_args(argv)
    path = args.socket or crm.default_socket_path()
    try:
        with crm.connect(path, timeout=10.0) as conn:
            return args.run(conn, args)
    except crm.RPCError as error:
        print("crmcall: %s" % error, file=sys.stderr)
        return 1
    except crm.PrefaceRejected as error:
        print("crmcall: %s" % error, file=sys.stderr)
        return 2
    except (crm.CRMError, OSError) as error:
        print("crmcall: %s: %s" % (path, error), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
