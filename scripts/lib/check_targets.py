#!/usr/bin/env python3
"""Checks that docs/ARCHITECTURE.md's target tables, Package.swift and the imports agree.

Three promises, each a failure of its own:

1. Every target in Package.swift has a row in a target table of docs/ARCHITECTURE.md (a Markdown table
   whose header starts `| target | folder |`), every row names a target, the row's folder is the target's
   path, and its last column ("may import") lists exactly the target's declared dependencies (targets
   and products, in any order; text in parentheses is a comment).
2. Every module a target's Swift files import that this package or its dependencies provide is declared
   in Package.swift (a transitive dependency is not enough).
3. Every declared dependency is imported by at least one of the target's files.
4. Every repository path README.md and docs/*.md cite (`Sources/…`, `Tests/…`, `scripts/…`, `conformance/…`,
   `clients/…`, `docs/…`, `deploy/…`, `bench/…`; not globs, not the generated `bench/out/`) exists.

Package.swift is read through `swift package dump-package` (its JSON), never by pattern.

Usage: check_targets.py [--root DIR] [--dump FILE]   (--dump: read the JSON from FILE instead of running swift)
Exit status: 0 when everything agrees, 1 with one line per disagreement on stderr, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

TABLE_HEADER = re.compile(r"^\|\s*target\s*\|\s*folder\s*\|", re.IGNORECASE)
IMPORT = re.compile(
    r"^[ \t]*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|internal|package|private|fileprivate)\s+)?import\s+"
    r"(?:(?:struct|class|enum|func|protocol|typealias|var|let)\s+)?([A-Za-z_]\w*)",
    re.MULTILINE,
)
NONE_MARKS = {"", "—", "-", "none", "nothing"}
CITED_PATH = re.compile(r"(?<![\w/.-])((?:Sources|Tests|scripts|conformance|clients|docs|deploy|bench)/[\w./+*-]*)")
GENERATED = ("bench/out/",)


@dataclass
class Target:
    """One target as Package.swift declares it."""

    name: str
    kind: str
    path: str
    dependencies: set[str] = field(default_factory=set)


@dataclass
class Row:
    """One row of a target table in ARCHITECTURE.md."""

    name: str
    folder: str
    imports: set[str]
    line: int


def package_targets(dump: dict) -> dict[str, Target]:
    """The targets of a `swift package dump-package` document, with default paths filled in."""
    targets = {}
    for raw in dump["targets"]:
        kind = raw["type"]
        default = ("Tests/" if kind == "test" else "Sources/") + raw["name"]
        deps = set()
        for dep in raw.get("dependencies", []):
            # Each dependency is {"byName": [name, …]}, {"target": [name, …]} or {"product": [name, package, …]}.
            (entry,) = dep.values()
            deps.add(entry[0])
        targets[raw["name"]] = Target(raw["name"], kind, (raw.get("path") or default).rstrip("/"), deps)
    return targets


def split_names(cell: str) -> set[str]:
    """The names in a "may import" cell: comma-separated, backticks dropped, parentheses are comments."""
    depth, text = 0, []
    for char in cell:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            text.append(char)
    names = {part.strip().strip("`").strip() for part in "".join(text).split(",")}
    return {name for name in names if name.lower() not in NONE_MARKS}


def cells(line: str) -> list[str]:
    """The cells of a Markdown table row (pipes inside backticks are not expected)."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_rows(markdown: str) -> tuple[list[Row], list[str]]:
    """The rows of every target table in `markdown`, and the problems found reading them."""
    rows, problems = [], []
    in_table = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        if TABLE_HEADER.match(line):
            in_table = True
            continue
        if not in_table:
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        parts = cells(line)
        if all(set(part) <= set("-: ") for part in parts):
            continue  # the separator row
        if len(parts) < 3:
            problems.append(f"ARCHITECTURE.md:{number}: a target row needs a target, a folder and what it may import")
            continue
        rows.append(Row(parts[0].strip("`"), parts[1].strip("`").rstrip("/"), split_names(parts[-1]), number))
    return rows, problems


def swift_imports(root: str, folder: str) -> set[str]:
    """Every module named by an `import` in the Swift files under `folder`."""
    found: set[str] = set()
    for directory, _, files in os.walk(os.path.join(root, folder)):
        for name in files:
            if name.endswith(".swift"):
                with open(os.path.join(directory, name), encoding="utf-8") as source:
                    found.update(IMPORT.findall(source.read()))
    return found


def problems(targets: dict[str, Target], rows: list[Row], imports: dict[str, set[str]]) -> list[str]:
    """Every disagreement between the package, the table rows and the imports, one sentence each."""
    found = []
    seen: dict[str, Row] = {}
    for row in rows:
        target = targets.get(row.name)
        if row.name in seen:
            first = seen[row.name].line
            found.append(f"ARCHITECTURE.md:{row.line}: {row.name} has a second row (first at line {first})")
            continue
        seen[row.name] = row
        where = f"ARCHITECTURE.md:{row.line}"
        if target is None:
            found.append(f"{where}: {row.name} is not a target in Package.swift")
            continue
        if row.folder != target.path:
            found.append(f"{where}: {row.name} lives in {target.path}, not {row.folder}")
        for name in sorted(target.dependencies - row.imports):
            found.append(f"{where}: {row.name} may import {name} (Package.swift) but its row omits it")
        for name in sorted(row.imports - target.dependencies):
            found.append(f"{where}: {row.name}'s row lists {name}, which Package.swift does not declare")
    for name in sorted(set(targets) - set(seen)):
        found.append(f"ARCHITECTURE.md: no row for target {name} ({targets[name].path})")
    # Modules the package can provide: its targets and every product some target depends on.
    provided = set(targets) | {dep for target in targets.values() for dep in target.dependencies}
    for name, target in sorted(targets.items()):
        if target.kind == "system-target" or name not in imports:
            continue
        imported = imports[name] & provided - {name}
        for module in sorted(imported - target.dependencies):
            found.append(f"Package.swift: {name} imports {module} but does not declare it")
        for module in sorted(target.dependencies - imported):
            found.append(f"Package.swift: {name} declares {module} but none of its files imports it")
    return found


def missing_paths(root: str, documents: list[str]) -> list[str]:
    """Every repository path cited in `documents` (paths relative to `root`) that does not exist."""
    found = []
    for document in documents:
        with open(os.path.join(root, document), encoding="utf-8") as handle:
            text = handle.read()
        for number, line in enumerate(text.splitlines(), start=1):
            for cited in CITED_PATH.findall(line):
                path = cited.rstrip(".,;:")
                if "*" in path or path.startswith(GENERATED):
                    continue
                if not os.path.exists(os.path.join(root, path)):
                    found.append(f"{document}:{number}: cites {path}, which does not exist")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    parser.add_argument("--dump", help="read the dump-package JSON from this file")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    if args.dump:
        with open(args.dump, encoding="utf-8") as handle:
            dump = json.load(handle)
    else:
        output = subprocess.run(
            ["swift", "package", "dump-package"], cwd=root, check=True, capture_output=True, text=True
        ).stdout
        dump = json.loads(output)
    targets = package_targets(dump)
    with open(os.path.join(root, "docs", "ARCHITECTURE.md"), encoding="utf-8") as handle:
        rows, found = table_rows(handle.read())
    imports = {name: swift_imports(root, target.path) for name, target in targets.items()}
    found += problems(targets, rows, imports)
    documents = ["README.md"] + sorted(
        os.path.join("docs", name) for name in os.listdir(os.path.join(root, "docs")) if name.endswith(".md"))
    found += missing_paths(root, [document for document in documents if os.path.exists(os.path.join(root, document))])
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        return 1
    print(f"targets: {len(targets)} targets agree with docs/ARCHITECTURE.md and their imports; cited paths exist")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
