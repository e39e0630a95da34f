import Testing

@testable import RecTOML

/// toml++ 3.x asserts (SIGABRT; undefined behaviour without assertions) on a table header with no key and on a `}`
/// where an array expects a value. `TOMLDocument.parse` refuses both as syntax errors with their place, and passes
/// every valid document through unchanged.
@Suite("TOML documents that toml++ would abort on")
struct TOMLDocumentTests {
    @Test(
        "a table header without a key, and a '}' inside an array, are syntax errors naming the line",
        arguments: [
            ("[[[", 1), ("[ +", 1), ("x = 1\n[#", 2), ("[\t.", 1), ("[[ {", 1), ("a = [}", 1), ("a = [1, }", 1),
            ("a = [\n  [1],\n  }\n]", 3), ("a = {b = [}]}", 1), ("[\n", 1), ("\r\n[=1", 2),
            // Lines inside multi-line strings count, a backslash that ends one (a line-ending backslash) included.
            ("s = \"\"\"a \\\nb \\\nc\"\"\"\nz = [}", 4), ("s = '''\n\n'''\n[[[", 4),
            // A NUL ended the document for toml++ (TOMLKit passes a C string): `slots = "bad"` after it was not read.
            ("id = \"w1\"\u{0}\nslots = \"bad\"", 1), ("a = 1\n# \u{0}", 2),
        ])
    func refused(text: String, line: Int) {
        #expect(throws: TOMLSyntaxError.self) { try TOMLDocument.parse(text) }
        do {
            _ = try TOMLDocument.parse(text)
        } catch {
            #expect(error.line == line, "\(text.debugDescription): \(error)")
        }
    }

    @Test("valid documents with brackets in strings, nested arrays and headers still parse")
    func valid() throws {
        let text = """
            # a comment [[[
            title = "a [ b } c"
            literal = 'x [[ y'
            multi = \"\"\"
            [[[ not a header
            \"\"\"
            nested = [
              [ [1], [2] ],
              [ "]", '}' ],
            ]
            inline = { a = [1, 2], b = { c = "}" } }

            [ table ]
            key = 1

            [[ "quoted array" ]]
            x = 2
            ['literal key']
            y = 3
            """
        let root = try TOMLDocument.parse(text)
        #expect(root["title"]?.string == "a [ b } c")
        #expect(root["table"]?.table?["key"]?.int == 1)
        #expect(root["nested"]?.array?.count == 2)
        #expect(root["literal key"]?.table?["y"]?.int == 3)
    }

    @Test("a plain syntax error keeps toml++'s description and place")
    func parseError() {
        do {
            _ = try TOMLDocument.parse("a = \n")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 1 && !error.reason.isEmpty)
        }
    }

    @Test(
        "a key or table defined twice is named as the document writes it (toml++ garbled a quoted one)",
        arguments: [
            ("[broker]\n'a' = 1\n\"a\" = 2\n", 3, "`\"a\"` is defined twice"),
            ("[broker]\nslots = 1\nslots = 2\n", 3, "`slots` is defined twice"),
            ("[broker]\n[broker]\n", 2, "`broker` is defined twice"),
        ])
    func redefinition(text: String, line: Int, named: String) {
        do {
            _ = try TOMLDocument.parse(text)
            Issue.record("parsed")
        } catch {
            #expect(error.line == line && error.reason.contains(named), "\(error.reason)")
        }
    }

    /// Random documents of up to 10 tokens over TOML's punctuation (the alphabet that found both assertions): each is
    /// parsed or refused, and the process survives every one (an assertion would abort this test run).
    @Test("random short documents are parsed or refused, never abort")
    func randomDocuments() {
        let tokens = [
            "[", "]", "[[", "]]", ".", "=", "\"", "'", "a", " ", "{", "}", ",", "\n", "#", "1", "\"\"\"", "'''", "\\",
            "\t", "-", "+", ":", "e", "\r", "_",
        ]
        var state: UInt64 = 0x5EED
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var refused = 0
        for _ in 0..<20_000 {
            let text = (0..<(1 + next() % 10)).map { _ in tokens[next() % tokens.count] }.joined()
            do { _ = try TOMLDocument.parse(text) } catch { refused += 1 }
        }
        #expect(refused > 0)
    }
}

/// A config file whose key had 30,000 dotted parts (60 KB) killed every program reading it with SIGSEGV (toml++
/// recurses once per part), and `id = "w\u0000evil"` was read as `w`: the schema reader guarded both, the config
/// reader did not. The guard is now in front of every TOML document.
@Suite("TOML documents are refused before toml++ could crash on them or cut a value short")
struct TOMLShapeTests {
    @Test("a key or table header nested past 65 parts is a syntax error naming its line, at any depth past it")
    func deepKeys() {
        for dots in [65, 30_000, 200_000] {
            let key = String(repeating: "a.", count: dots) + "b"
            for text in ["[client]\n\(key) = 1\n", "[client]\r\n\(key) = 1\r\n", "x = 1\n[\(key)]\n"] {
                let error = #expect(throws: TOMLSyntaxError.self) { try TOMLDocument.parse(text) }
                #expect(error?.line == 2, "\(dots) dots")
                #expect(error?.reason == "a key or table header nested \(dots + 1) deep; keys are at most 65 parts deep")
            }
        }
        // 64 dots parse; dots in values, strings and comments never count.
        let allowed = String(repeating: "a.", count: 64) + "b = 1\n"
        #expect(throws: Never.self) { try TOMLDocument.parse(allowed) }
        let values = "v = 0.25\ns = \"\(String(repeating: "a.", count: 100))\"\n# \(String(repeating: "x.", count: 100))\n"
        #expect(throws: Never.self) { try TOMLDocument.parse(values) }
    }

    @Test(
        "a float nearer 0 than a 64-bit float holds is refused naming its line, never read as 0",
        arguments: [
            ("epsilon = 1e-400", 1), ("[broker]\nepsilon = -1e-400", 2), ("a = [0.5, 1_0e-400]", 1),
            ("t = { x = 1, y = 2.5e-330 }", 1), ("a = [\n  1,\n  3e-999,\n]", 3),
        ])
    func underflow(text: String, line: Int) {
        do {
            _ = try TOMLDocument.parse(text)
            Issue.record("\(text.debugDescription) parsed")
        } catch {
            #expect(error.line == line && error.reason.contains("would be read as 0"), "\(text.debugDescription): \(error)")
        }
    }

    @Test("zeros, dates, small floats, keys and strings that look like tiny numbers still parse")
    func notUnderflow() throws {
        let text = """
            zero = 0.0
            negative = -0e-400
            small = 4.9e-324
            date = 1979-05-27
            "2e-400" = 1
            1e-400 = 2
            s = "1e-400"
            a = [0, 0.0e5]  # 1e-400
            """
        let table = try TOMLDocument.parse(text)
        #expect(table["zero"]?.double == 0 && table["small"]?.double == 4.9e-324)
    }

    @Test("a string escaping U+0000 is refused, naming its line, never read cut at it")
    func escapedNul() {
        for text in ["[worker]\nid = \"w\\u0000evil\"\n", "a = 1\nb = 'x'\nc = \"\\U00000000\"\n"] {
            let error = #expect(throws: TOMLSyntaxError.self) { try TOMLDocument.parse(text) }
            #expect(error?.reason == "a string escapes the character U+0000 (\\u0000), which no value may hold")
            #expect(error?.line == text.split(separator: "\n").firstIndex { $0.contains("0000") }.map { $0 + 1 })
        }
    }
}
