"""List the styles: the bundled ones and the user's (made with stylize add-style)."""

from __future__ import annotations

import argparse
import json

from ..catalog import all_styles, mixable, user_styles_dir


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    styles = all_styles()
    rows = [{"name": s.name, "title": s.title, "artist": s.artist, "year": s.card.get("year", ""),
             "default": s.is_default, "origin": s.origin, "network": _network(s.card),
             "mixable": mixable(s) is not None} for s in styles]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    width = max((len(r["name"]) for r in rows), default=4)
    for row in rows:
        marks = [mark for mark, on in (("default", row["default"]), ("user", row["origin"] == "user")) if on]
        details = ", ".join(str(part) for part in (row["title"], row["artist"], row["year"]) if part)
        print(f"{row['name']:<{width}}  {details}{'  (' + ', '.join(marks) + ')' if marks else ''}")
    mixed = [style.name for style in styles if mixable(style) is not None]
    if len(mixed) > 1:
        print(f"These mix in one network pass: --style {mixed[0]}=0.7,{mixed[1]}=0.3 (any of {', '.join(mixed)})")
    print(f"User styles (stylize add-style) live in {user_styles_dir()}")
    return 0


def _network(card: dict) -> dict:
    """What the style runs on: its own network, or a style vector of a shared one."""
    shared = card.get("shared")
    if shared is None:
        return {"kind": "single", "file": card.get("files", {}).get("fp32", {}).get("file")}
    return {"kind": "shared", "name": shared.get("network"), "sha256": shared.get("sha256"),
            "style_size": len(shared.get("vector", []))}
