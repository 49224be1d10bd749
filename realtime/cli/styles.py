"""List the bundled styles (name, title, artist, default)."""

from __future__ import annotations

import argparse
import json

from ..catalog import bundled_styles


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    styles = bundled_styles()
    rows = [{"name": s.name, "title": s.title, "artist": s.artist, "year": s.card.get("year", ""),
             "default": s.is_default} for s in styles]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for row in rows:
        mark = "  (default)" if row["default"] else ""
        print(f"{row['name']:<{width}}  {row['title']}, {row['artist']}, {row['year']}{mark}")
    return 0
