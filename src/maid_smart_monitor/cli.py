"""The command line: the seed's flags, each mapped to one library call.

Exit status: 0 success; 1 a runtime failure (no smartctl, unusable database); 2 a
bad command line or configuration (a one-line error naming the setting).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from maid_smart_monitor import __version__
from maid_smart_monitor import config as config_mod
from maid_smart_monitor.config import SETTINGS, ConfigError
from maid_smart_monitor.logsetup import setup_logging

log = logging.getLogger("maid_smart_monitor.cli")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like a config error
        self.exit(EXIT_USAGE, f"maid-smart-monitor: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="maid-smart-monitor",
        description="SMART health monitor for MAID storage: never wakes a sleeping disk.",
    )
    modes = p.add_argument_group("what to do (default: one monitoring cycle)")
    modes.add_argument("--daemon", action="store_true", help="run continuously")
    modes.add_argument("--summary", action="store_true", help="print the health summary")
    modes.add_argument("--export", metavar="FILE", help="export history to CSV ('-' = stdout)")
    modes.add_argument("--days", type=_positive_days, default=30.0,
                       help="days of history for --export (default 30)")
    modes.add_argument("--report", action="store_true",
                       help="health report: critical issues per disk")
    modes.add_argument("--json", action="store_true", help="--report as JSON")
    modes.add_argument("--ack", type=int, metavar="ALERT_ID", help="acknowledge an alert")
    modes.add_argument("--note", default="", help="note for --ack")
    modes.add_argument("--alerts", action="store_true", help="list open alerts")
    modes.add_argument("--demo", action="store_true",
                       help="monitor a simulated fleet built from recordings of real drives")
    modes.add_argument("--demo-disks", type=int, default=24, metavar="N",
                       help="disks in the --demo fleet (default 24)")
    modes.add_argument("--serve", action="store_true",
                       help="serve the dashboard/API/metrics for an existing database")
    modes.add_argument("--web", action="store_true",
                       help="with --daemon: also serve the dashboard/API/metrics")
    modes.add_argument("--plot-temperature", metavar="DEVICE",
                       help="write a temperature trend PNG for DEVICE (needs [analytics])")
    modes.add_argument("--output", metavar="FILE", help="output file for --plot-temperature")
    modes.add_argument("--print-config", action="store_true",
                       help="print the resolved configuration and exit")
    modes.add_argument("--check-config", action="store_true",
                       help="validate the configuration and exit")
    modes.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    opts = p.add_argument_group("settings (override MAID_* variables and the config file)")
    opts.add_argument("--config", metavar="FILE",
                      help="config.ini file (default: $MAID_CONFIG)")
    for s in SETTINGS:
        if s.flag:
            opts.add_argument(s.flag, dest=s.name, metavar=s.metavar,
                              type=_typed(s), default=None, help=s.doc)
    return p


def _typed(setting: config_mod.Setting) -> Any:
    convert = config_mod.cli_type(setting)

    def typed(text: str) -> Any:
        try:
            return convert(text)
        except ConfigError as exc:  # argparse shows ArgumentTypeError's text as is
            raise argparse.ArgumentTypeError(str(exc)) from None

    return typed


def _positive_days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--days {text!r}: must be a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"--days {text!r}: must be greater than 0")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its line
        return int(exc.code or 0)
    cli_values = {s.name: getattr(args, s.name) for s in SETTINGS if s.flag}
    try:
        settings = config_mod.load(cli_values, config_file=args.config)
    except ConfigError as exc:
        print(f"maid-smart-monitor: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(settings.log_level, settings.log_file, settings.log_format)
    if args.print_config:
        print(settings.render())
        return EXIT_OK
    if args.check_config:
        print(f"configuration OK ({settings.config_file or 'no config file'})")
        return EXIT_OK
    try:
        return _dispatch(args, settings)
    except ConfigError as exc:
        print(f"maid-smart-monitor: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from maid_smart_monitor.discovery import DiscoveryError
        from maid_smart_monitor.storage.base import StoreError

        if isinstance(exc, (StoreError, DiscoveryError, OSError)):
            print(f"maid-smart-monitor: error: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        raise


def _dispatch(args: argparse.Namespace, settings: config_mod.Settings) -> int:
    if args.demo:
        from maid_smart_monitor.demo import run_demo

        return run_demo(settings, disks=args.demo_disks, args=args)
    if args.serve:
        from maid_smart_monitor.web import serve

        return serve(settings)
    if args.plot_temperature:
        from maid_smart_monitor.analytics import AnalyticsError, plot_temperature

        try:
            out = plot_temperature(settings.db_path, args.plot_temperature, days=args.days,
                                   output=args.output)
        except AnalyticsError as exc:
            print(f"maid-smart-monitor: error: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        print(out)
        return EXIT_OK
    from maid_smart_monitor.monitor import MAIDSmartMonitor

    store = None
    if args.summary or args.export or args.report or args.alerts or args.ack is not None:
        store = _existing_store(settings, readonly=args.ack is None)
    monitor = MAIDSmartMonitor(settings=settings, notifier=_notifier(settings), store=store)
    try:
        return _run(args, settings, monitor)
    finally:
        monitor.close()


def _existing_store(settings: config_mod.Settings, *, readonly: bool) -> Any:
    """Commands that only look at the history must not create, migrate or move aside a
    database: a wrong --db path is an error (exit 1), not an empty fleet."""
    from maid_smart_monitor.storage.base import StoreError
    from maid_smart_monitor.storage.factory import is_postgres, open_store

    db = settings.db_path
    if not is_postgres(db) and not os.path.exists(db):
        raise StoreError(f"database {db} does not exist (check --db / MAID_DB_PATH)")
    return open_store(db, busy_timeout=settings.busy_timeout, readonly=readonly,
                      on_corrupt="raise", node=settings.node)


def _run(args: argparse.Namespace, settings: config_mod.Settings, monitor: Any) -> int:
    if args.summary:
        print(monitor.print_summary())
        return EXIT_OK
    if args.export:
        if args.export == "-":
            n = monitor.export_csv(sys.stdout, days=args.days)
        else:
            n = monitor.export_csv(args.export, days=args.days)
            print(f"Exported {n} rows to {args.export}")
        return EXIT_OK
    if args.report:
        from maid_smart_monitor.report import health_report

        print(health_report(monitor, as_json=args.json))
        return EXIT_OK
    if args.alerts:
        for a in monitor.store.list_alerts(state="open", limit=10000):
            ack = f" (acknowledged: {a.ack_note})" if a.acknowledged else ""
            print(f"{a.id}\t{a.severity.value}\t{a.device}\t{a.rule_id}\t{a.message}{ack}")
        return EXIT_OK
    if args.ack is not None:
        from maid_smart_monitor.storage.base import utc_text

        if monitor.store.acknowledge_alert(args.ack, args.note, utc_text()):
            print(f"Alert {args.ack} acknowledged")
            return EXIT_OK
        print(f"maid-smart-monitor: error: no open alert with id {args.ack}", file=sys.stderr)
        return EXIT_FAILURE
    if args.daemon:
        return _daemon(args, settings, monitor)
    report = monitor.run_monitoring_cycle()
    print(report.line())
    return EXIT_OK


def _daemon(args: argparse.Namespace, settings: config_mod.Settings, monitor: Any) -> int:
    from maid_smart_monitor.daemon import Daemon

    server = None
    if args.web:
        from maid_smart_monitor.web import start_background

        server = start_background(settings)

    def reload() -> Any:
        """The new monitor is built first: if the new configuration is bad, the running
        monitor is untouched. What the old one held in memory carries over."""
        new = config_mod.load(
            {s.name: getattr(args, s.name) for s in SETTINGS if s.flag},
            config_file=args.config or os.environ.get("MAID_CONFIG"),
        )
        from maid_smart_monitor.monitor import MAIDSmartMonitor

        fresh = MAIDSmartMonitor(settings=new, notifier=_notifier(new))
        old = daemon.monitor
        fresh.adopt_state(old)
        old.close()
        setup_logging(new.log_level, new.log_file, new.log_format)
        return fresh

    daemon = Daemon(monitor, interval=settings.interval,
                    sample_interval=settings.sample_interval, reload=reload)
    daemon.install_signal_handlers()
    try:
        return daemon.run()
    finally:
        if server is not None:
            server.close()
        daemon.monitor.close()


def _notifier(settings: config_mod.Settings) -> Any:
    """A Notifier when any target is configured; None otherwise (no apprise needed)."""
    wants = (settings.webhook_url and settings.enable_webhooks) or settings.email_alerts \
        or settings.apprise_urls
    if not wants:
        return None
    from maid_smart_monitor.notify import notifier_from_settings

    return notifier_from_settings(settings)
