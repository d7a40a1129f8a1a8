"""The ``customer-sync`` command line: parses arguments and calls the modules that do the work.

Sub-commands live in ``customer_sync.commands.<name>`` and are imported only when used, so that
``customer-sync db status`` does not pay for importing dbt or dlt.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
import warnings

import click

from customer_sync.errors import CustomerSyncError, RunFailure

# platformdirs (used by dependencies) warns on every start in a session without a login runtime dir
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

# command name -> "module:attribute" of its click command
COMMANDS: dict[str, str] = {
    "db": "customer_sync.commands.db:db",
    "simulate": "customer_sync.commands.simulate:simulate",
    "extract": "customer_sync.commands.extract:extract",
    "build": "customer_sync.commands.build:build",
    "evaluate": "customer_sync.commands.evaluate:evaluate",
    "sync": "customer_sync.commands.sync:sync",
    "run": "customer_sync.commands.run:run",
    "demo": "customer_sync.commands.run:demo",
    "bench": "customer_sync.commands.bench:bench",
    "down": "customer_sync.commands.db:down",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            # a missing optional dependency or a broken install: say so when the command is used
            return _unavailable(cmd_name, exc)
        return getattr(module, attr)


def _unavailable(name: str, exc: ImportError) -> click.Command:
    @click.command(name=name, help=f"(unavailable: {exc})", context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        raise RunFailure(f"'{name}' cannot be loaded: {exc}")

    return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", "-v", is_flag=True, help="Show debug logs and tracebacks.")
@click.version_option(package_name="customer-sync")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """customer-sync: one golden record per real customer, pushed back to every system."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line per error, exit 2 for bad input/config, 1 for failures."""
    args = sys.argv[1:] if argv is None else argv
    verbose = "--verbose" in args or "-v" in args
    try:
        cli.main(args=args, prog_name="customer-sync", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except CustomerSyncError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: keep the traceback behind --verbose
        if verbose:
            traceback.print_exc()
        click.echo(f"error: {exc.__class__.__name__}: {exc} (run with --verbose for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
