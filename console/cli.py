"""``botkit console add-user NAME --role admin|agent``: make the console's users from the command line
(the first admin cannot be made from the console itself).

Registered through the ``botkit.commands`` entry points (``console = "botkit.console.cli:register [web]"``).
The password is asked twice on the terminal, or read from the first line of standard input with
``--password-stdin`` (for scripts: it never appears in the process list or the shell's history). Exit codes:
0 done; 1 the user cannot be added (name taken, short password); 2 a bad command line or configuration.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``botkit console``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "console",
        help="manage the web console's users",
        description="The agents' and admins' web console (plugins = [\"botkit.console\"]).",
    )
    parser.set_defaults(handler=lambda _args: _usage(parser))
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    add = actions.add_parser("add-user", help="add an agent or an admin who can log in to the console")
    add.add_argument("name", metavar="NAME", help="the login name (letters, digits, '.', '_', '-')")
    add.add_argument("--role", choices=("agent", "admin"), required=True, help="what they may do")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input's first line"
    )
    add.add_argument(
        "--config", metavar="FILE", help="botkit.toml (default: $BOTKIT_CONFIG or ./botkit.toml)"
    )
    add.set_defaults(handler=add_user)
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        print("botkit console: the two passwords differ; nothing was changed", file=sys.stderr)
        return None
    return first


def add_user(args: argparse.Namespace) -> int:
    """Add the user named on the command line to the bot's database (created if it is new)."""
    from botkit.config import ConfigError, load_settings
    from botkit.console.accounts import AccountError, Accounts
    from botkit.db.engine import DatabaseUnavailable, database_url, open_engine

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"botkit console: {exc}", file=sys.stderr)
        return 2
    password = _password(args.password_stdin)
    if password is None:
        return 1
    try:
        engine = open_engine(database_url(settings))
    except DatabaseUnavailable as exc:
        print(f"botkit console: {exc}", file=sys.stderr)
        return 1
    try:
        user = Accounts(engine).add_user(args.name, password, args.role)
    except AccountError as exc:
        print(f"botkit console: {exc}; nothing was changed", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"added {user.role} {user.name!r}: log in at the console ([console] port {settings.console.port})")
    return 0
