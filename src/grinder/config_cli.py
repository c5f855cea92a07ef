"""`grinder config check FILE`: validate a config file and print the effective configuration."""

from __future__ import annotations

import argparse
import json
import sys

from grinder.config import ConfigError, load_config, secret_status


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate FILE and print the effective configuration")
    check.add_argument("file", nargs="?", help="TOML config file (omit to see defaults + environment)")
    check.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")
    check.set_defaults(func=run_check)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '""  # not set'
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def run_check(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.file)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    effective = cfg.as_dict()
    secrets = secret_status()
    if args.json:
        print(json.dumps({"sections": effective, "secrets": secrets}, indent=2, sort_keys=True))
        return 0
    print(f"# effective configuration ({args.file or 'defaults + environment'})")
    for name, values in effective.items():
        print(f"\n[{name}]")
        for key, value in values.items():
            print(f"{key} = {_toml_value(value)}")
    print("\n# secrets (environment only)")
    for name, state in secrets.items():
        print(f"# {name}: {state}")
    return 0
