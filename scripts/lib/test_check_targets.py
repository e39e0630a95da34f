"""Tests of check_targets.py: it passes when the table, Package.swift and the imports agree, and names each
kind of disagreement when they do not. Run: python3 -m unittest discover -s scripts/lib -p 'test_*.py'."""

import contextlib
import io
import json
import os
import tempfile
import unittest

import check_targets

DUMP = {
    "targets": [
        {"name": "CZMQ", "type": "system-target", "path": "Sources/CZMQ", "dependencies": []},
        {"name": "RecWire", "type": "regular", "path": "Sources/Wire", "dependencies": []},
        {
            "name": "RecTransport",
            "type": "regular",
            "path": "Sources/Transport",
            "dependencies": [
                {"byName": ["CZMQ", None]},
                {"target": ["RecWire", None]},
                {"product": ["Logging", "swift-log", None, None]},
            ],
        },
        {"name": "WireTests", "type": "test", "path": None, "dependencies": [{"byName": ["RecWire", None]}]},
    ]
}

DOC = """# Architecture

| target | folder | what it holds | may import |
|---|---|---|---|
| `CZMQ` | `Sources/CZMQ` | module map | — |
| `RecWire` | `Sources/Wire` | the codec | — (Foundation only) |
| `RecTransport` | `Sources/Transport` | sockets, with a | pipe in the text | CZMQ, RecWire, Logging (swift-log, a, b) |

Prose between the tables.

| target | folder | what it holds | may import |
|---|---|---|---|
| `WireTests` | `Tests/WireTests` | codec tests | RecWire |
"""

IMPORTS = {
    "CZMQ": set(),
    "RecWire": {"Foundation"},
    "RecTransport": {"CZMQ", "RecWire", "Logging", "Glibc"},
    "WireTests": {"RecWire", "Testing"},
}


def check(doc=DOC, dump=DUMP, imports=IMPORTS):
    rows, found = check_targets.table_rows(doc)
    return found + check_targets.problems(check_targets.package_targets(dump), rows, imports)


class CheckTargetsTests(unittest.TestCase):
    def test_agreeing_table_package_and_imports_pass(self):
        self.assertEqual(check(), [])

    def test_a_dependency_missing_from_a_row_fails(self):
        found = check(DOC.replace("CZMQ, RecWire, Logging", "CZMQ, Logging"))
        self.assertEqual(len(found), 1)
        self.assertIn("RecTransport may import RecWire (Package.swift) but its row omits it", found[0])

    def test_a_row_listing_an_undeclared_dependency_fails(self):
        found = check(DOC.replace("| codec tests | RecWire |", "| codec tests | RecWire, RecTransport |"))
        self.assertEqual(len(found), 1)
        self.assertIn("WireTests's row lists RecTransport, which Package.swift does not declare", found[0])

    def test_a_wrong_folder_fails(self):
        found = check(DOC.replace("`Sources/Wire`", "`Sources/Shared`"))
        self.assertEqual(found, [found[0]])
        self.assertIn("RecWire lives in Sources/Wire, not Sources/Shared", found[0])

    def test_a_target_without_a_row_and_a_row_without_a_target_fail(self):
        doc = DOC.replace("| `RecWire` | `Sources/Wire` |", "| `Shared` | `Sources/Wire` |")
        found = check(doc)
        self.assertTrue(any("Shared is not a target in Package.swift" in p for p in found), found)
        self.assertTrue(any("no row for target RecWire (Sources/Wire)" in p for p in found), found)

    def test_a_duplicate_row_fails(self):
        doc = DOC + "| `RecWire` | `Sources/Wire` | again | — |\n"
        self.assertTrue(any("RecWire has a second row" in p for p in check(doc)))

    def test_an_import_the_package_does_not_declare_fails(self):
        imports = dict(IMPORTS, WireTests={"RecWire", "RecTransport", "Testing"})
        self.assertEqual(
            check(imports=imports), ["Package.swift: WireTests imports RecTransport but does not declare it"])

    def test_a_declared_dependency_nothing_imports_fails(self):
        imports = dict(IMPORTS, RecTransport={"CZMQ", "RecWire"})
        self.assertEqual(
            check(imports=imports), ["Package.swift: RecTransport declares Logging but none of its files imports it"])

    def test_a_default_path_is_the_target_name_under_sources_or_tests(self):
        targets = check_targets.package_targets(DUMP)
        self.assertEqual(targets["WireTests"].path, "Tests/WireTests")
        self.assertEqual(targets["RecTransport"].dependencies, {"CZMQ", "RecWire", "Logging"})

    def test_imports_are_read_with_attributes_and_access_levels(self):
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "Sources", "A"))
            with open(os.path.join(root, "Sources", "A", "a.swift"), "w") as source:
                source.write("@testable import B\ninternal import C\nimport struct D.Thing\n#if canImport(Glibc)\n"
                             "    import Glibc\n#endif\n// import NotThis\nlet importer = 1\n")
            self.assertEqual(check_targets.swift_imports(root, "Sources/A"), {"B", "C", "D", "Glibc"})

    def test_a_cited_path_that_does_not_exist_fails(self):
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "Sources", "Wire"))
            with open(os.path.join(root, "doc.md"), "w") as handle:
                handle.write("See Sources/Wire/, `Sources/Shared/Wire/Header.swift`.\nGlobs (docs/*.md) and "
                             "bench/out/peer.md are not checked; nor is a/Sources/x.\n")
            self.assertEqual(
                check_targets.missing_paths(root, ["doc.md"]),
                ["doc.md:1: cites Sources/Shared/Wire/Header.swift, which does not exist"])

    def test_the_command_exits_1_naming_the_problem_and_0_when_fixed(self):
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "docs"))
            os.makedirs(os.path.join(root, "Sources", "CZMQ"))
            sources = [
                ("Sources/Wire", "import Foundation\n"),
                ("Sources/Transport", "import CZMQ\nimport RecWire\nimport Logging\n"),
                ("Tests/WireTests", "import RecWire\n"),
            ]
            for folder, text in sources:
                os.makedirs(os.path.join(root, folder))
                with open(os.path.join(root, folder, "File.swift"), "w") as source:
                    source.write(text)
            dump = os.path.join(root, "dump.json")
            with open(dump, "w") as handle:
                json.dump(DUMP, handle)
            for doc, status in [(DOC.replace(", Logging (swift-log, a, b)", ""), 1), (DOC, 0)]:
                with open(os.path.join(root, "docs", "ARCHITECTURE.md"), "w") as handle:
                    handle.write(doc)
                errors = io.StringIO()
                with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
                    self.assertEqual(check_targets.main(["--root", root, "--dump", dump]), status)
                if status:
                    self.assertIn("RecTransport may import Logging", errors.getvalue())


if __name__ == "__main__":
    unittest.main()
