"""The simulator process: CRM, billing and support services on 127.0.0.1, one thread pool each.

Started in the background by ``customer-sync simulate start`` (see :mod:`.control`) as
``python -m customer_sync.simulators.server --dir $CUSTOMER_SYNC_HOME/simulators``. It reads the data,
configuration and tokens from that directory, serves until SIGTERM/SIGINT, and keeps ``config.json``
current when ``/_admin/config`` changes a setting.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import sys
import threading
from pathlib import Path

from customer_sync.simulators.billing import BillingService
from customer_sync.simulators.crm import CrmService
from customer_sync.simulators.state import (
    HTTP_SYSTEMS,
    SimConfig,
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


def build_services(directory: Path) -> dict[str, Service]:
    run = read_config(directory)
    configs = read_system_configs(directory)
    tokens = read_credentials(directory)
    lock = threading.Lock()
    services: dict[str, Service] = {}

    def save() -> None:
        with lock:
            write_config(directory, run, {name: svc.ctx.config for name, svc in services.items()})

    for system in HTTP_SYSTEMS:
        ctx = Context(
            directory=directory,
            config=configs[system],
            tokens=tokens,
            save_config=save,
            rng=random.Random(f"{run.seed}:{system}"),
        )
        services[system] = SERVICE_CLASSES[system](ctx)
    return services


def run(directory: Path) -> int:
    services = build_services(directory)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=Path, help="the simulators' state directory")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run(args.dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
