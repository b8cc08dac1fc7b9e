"""``scanstack simulate merlin FILE.mib`` — serve a ``.mib`` as a Merlin detector on TCP.

Examples::

    scanstack simulate merlin scan.mib --port 0          # prints the ports it listens on
    scanstack simulate merlin scan.mib --port 6342 --control-port 6341 --wait-start
"""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser("simulate", help="serve a file as a live detector on TCP (tests, demos)")
    kinds = p.add_subparsers(dest="detector", required=True)
    m = kinds.add_parser("merlin", help="a Merlin detector: data and control ports")
    m.add_argument("input", help=".mib file to serve")
    m.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    m.add_argument("--port", type=int, default=6342, help="data port (0: chosen by the system)")
    m.add_argument(
        "--control-port", type=int, default=6341, help="control port (0: chosen; -1: none)"
    )
    m.add_argument("--repeat", action="store_true", help="send the acquisition again and again")
    m.add_argument(
        "--wait-start", action="store_true", help="send frames only after CMD,STARTACQUISITION"
    )
    m.add_argument("--fault", help="misbehave: drop:K, header:K, size:K, stall:K or hdr")
    m.set_defaults(func=cmd_simulate)


def cmd_simulate(args) -> int:
    from ..live.simulator import MerlinSimulator

    sim = MerlinSimulator(
        args.input,
        args.host,
        args.port,
        None if args.control_port < 0 else args.control_port,
        repeat=args.repeat,
        wait_start=args.wait_start,
        fault=args.fault,
    ).start()
    ctl = f", control port {sim.control_port}" if sim.control_port is not None else ""
    print(
        f"serving {args.input} ({sim.nframes} frames) as merlin://{args.host}:{sim.data_port}"
        f"{ctl}; Ctrl-C to stop",
        flush=True,
    )
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0
