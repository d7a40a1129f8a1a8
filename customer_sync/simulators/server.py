"""The simulator processes: CRM, billing and support services on 127.0.0.1, one process each.

Started in the background by ``customer-sync simulate start`` (see :mod:`.control`) as
``python -m customer_sync.simulators.server --dir $CUSTOMER_SYNC_HOME/simulators``. That process
starts one child per service (``--system crm``), as the real services are separate servers: each
serves its own requests on a core of its own instead of sharing one interpreter with the other two.
A child reads the data, configuration and tokens from the directory, serves until SIGTERM/SIGINT, and
keeps its part of ``config.json`` current when ``/_admin/config`` changes a setting. The parent stops
the children when it is stopped, and stops every child when one of them exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from customer_sync.simulators.billing import BillingService
from customer_sync.simulators.crm import CrmService
from customer_sync.simulators.state import (
    HTTP_SYSTEMS,
    SimConfig,
    config_file_lock,
    read_config,
    read_credentials,
    read_system_configs,
    write_config,
)
from customer_sync.simulators.support import SupportService
from customer_sync.simulators.web import Context, Service, SimulatorServer, serve

log = logging.getLogger("customer_sync.simulators.server")

SERVICE_CLASSES: dict[str, type[Service]] = {
    "crm": CrmService,
    "billing": BillingService,
    "support": SupportService,
}
EXIT_PORT_IN_USE = 3


def build_services(directory: Path, systems: tuple[str, ...] = HTTP_SYSTEMS) -> dict[str, Service]:
    run = read_config(directory)
    configs = read_system_configs(directory)
    tokens = read_credentials(directory)
    lock = threading.Lock()
    services: dict[str, Service] = {}

    def save() -> None:
        # other processes serve the other systems: write this process's part under the file lock
        with lock, config_file_lock(directory):
            stored = read_system_configs(directory)
            stored.update({name: svc.ctx.config for name, svc in services.items()})
            write_config(directory, run, stored)

    for system in systems:
        ctx = Context(
            directory=directory,
            config=configs[system],
            tokens=tokens,
            save_config=save,
            rng=random.Random(f"{run.seed}:{system}"),
        )
        services[system] = SERVICE_CLASSES[system](ctx)
    return services


def run(directory: Path, systems: tuple[str, ...] = HTTP_SYSTEMS) -> int:
    """Serve ``systems`` from this process until SIGTERM/SIGINT."""
    services = build_services(directory, systems)
    servers: list[SimulatorServer] = []
    for system, service in services.items():
        config: SimConfig = service.ctx.config
        try:
            servers.append(serve(service, config.port(system)))
        except OSError as exc:
            log.error("cannot listen on 127.0.0.1:%s for %s: %s", config.port(system), system, exc)
            for server in servers:
                server.shutdown()
            return EXIT_PORT_IN_USE
        log.info("%s listening on 127.0.0.1:%s", system, config.port(system))
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    log.info("stopping")
    for server in servers:
        server.shutdown()
        server.server_close()
    for service in services.values():
        service.close()
    return 0


def supervise(directory: Path, verbose: bool = False) -> int:
    """Start one child process per service; stop them all when stopped or when one exits."""
    command = [sys.executable, "-m", "customer_sync.simulators.server", "--dir", str(directory)]
    children = {
        system: subprocess.Popen([*command, "--system", system, *(["--verbose"] if verbose else [])])
        for system in HTTP_SYSTEMS
    }
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = 0
    while not stop.is_set():
        exited = {system: child.poll() for system, child in children.items() if child.poll() is not None}
        if exited:
            system, code = next(iter(exited.items()))
            log.error("the %s simulator exited with code %s; stopping the others", system, code)
            break
        stop.wait(0.2)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return code or 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=Path, help="the simulators' state directory")
    parser.add_argument("--system", choices=HTTP_SYSTEMS, help="serve this service only (a child)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format=f"%(asctime)s {os.getpid()} %(levelname)s %(name)s: %(message)s",
    )
    if args.system is None:
        return supervise(args.dir.resolve(), args.verbose)
    return run(args.dir.resolve(), (args.system,))


if __name__ == "__main__":
    sys.exit(main())
