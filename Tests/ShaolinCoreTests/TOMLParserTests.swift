import Testing

import ShaolinCore

/// Parses or records the issue; returns nil on error.
private func parse(_ text: String) -> TOMLTable? {
    do {
        return try TOMLParser.parse(text)
    } catch {
        Issue.record("unexpected parse error: \(error)")
        return nil
    }
}

/// The error a text produces, or nil when it parses.
private func parseError(_ text: String) -> TOMLError? {
    do {
        _ = try TOMLParser.parse(text)
        return nil
    } catch {
        return error
    }
}

@Suite struct TOMLParserTests {
    @Test func scalarsAndTheirPositions() throws {
        let t = try #require(parse("""
            # comment
            a = 1
              b = "two" # trailing
            c = 'lit\\eral'
            d = true
            e = false
            f = 3.5
            """))
        #expect(t.keys == ["a", "b", "c", "d", "e", "f"])
        #expect(t["a"]?.value.integer == 1)
        #expect(t["a"]?.keyLocation == SourcePosition(line: 2, column: 1))
        #expect(t["a"]?.value.location == SourcePosition(line: 2, column: 5))
        #expect(t["b"]?.value.string == "two")
        #expect(t["b"]?.keyLocation == SourcePosition(line: 3, column: 3))
        #expect(t["b"]?.value.location == SourcePosition(line: 3, column: 7))
        #expect(t["c"]?.value.string == "lit\\eral")
        #expect(t["d"]?.value.boolean == true)
        #expect(t["e"]?.value.boolean == false)
        #expect(t["f"]?.value.float == 3.5)
    }

    @Test func columnsCountCharactersNotBytes() throws {
        #expect(parse("s = \"äöü\"")?["s"]?.value.string == "äöü")
        let e = try #require(parseError("s = \"äöü\" x"))
        #expect(e.location == SourcePosition(line: 1, column: 11))
    }

    @Test func basicStringEscapes() throws {
        let t = try #require(parse(#"s = "a\\b\"c\nd\te\u00e9\U0001F600""#))
        #expect(t["s"]?.value.string == "a\\b\"c\nd\te\u{e9}\u{1F600}")
        #expect(parseError(#"s = "\x""#)?.message == "invalid escape sequence '\\x'")
        #expect(parseError(#"s = "\uD800""#)?.message == "escape is not a valid Unicode scalar value")
        #expect(parseError(#"s = "\u12""#) != nil)
        #expect(parseError("s = \"abc") != nil)
        #expect(parseError("s = \"a\u{01}b\"") != nil)
    }

    @Test func multilineStrings() throws {
        let t = try #require(parse("a = \"\"\"\nline1\nline2 \\\n   cont\"\"\"\nb = '''\nraw \\n'''\nc = \"\"\"q\"\"\"\"\n"))
        #expect(t["a"]?.value.string == "line1\nline2 cont")
        #expect(t["b"]?.value.string == "raw \\n")
        #expect(t["c"]?.value.string == "q\"")
    }

    @Test func integers() throws {
        let t = try #require(parse("""
            a = 0x88B5
            b = 1_000_000
            c = -42
            d = +7
            e = 0o755
            f = 0b101
            g = -9223372036854775808
            h = 9223372036854775807
            i = 0
            """))
        #expect(t["a"]?.value.integer == 0x88B5)
        #expect(t["b"]?.value.integer == 1_000_000)
        #expect(t["c"]?.value.integer == -42)
        #expect(t["d"]?.value.integer == 7)
        #expect(t["e"]?.value.integer == 0o755)
        #expect(t["f"]?.value.integer == 5)
        #expect(t["g"]?.value.integer == Int64.min)
        #expect(t["h"]?.value.integer == Int64.max)
        #expect(t["i"]?.value.integer == 0)
    }

    @Test(arguments: [
        "a = 9223372036854775808", "a = 1__0", "a = _1", "a = 1_", "a = 012", "a = 0xZZ",
        "a = -0x10", "a = 1.", "a = .5", "a = 1e", "a = 12abc", "a = 0x",
    ])
    func badNumbers(_ text: String) {
        let e = parseError(text)
        #expect(e != nil)
        #expect(e?.line == 1)
    }

    @Test func floats() throws {
        let t = try #require(parse("a = 1.5e3\nb = -0.25\nc = 6E-2\nd = inf\ne = -inf\nf = nan\ng = 1_0.0_1"))
        #expect(t["a"]?.value.float == 1500)
        #expect(t["b"]?.value.float == -0.25)
        #expect(t["c"]?.value.float == 0.06)
        #expect(t["d"]?.value.float == .infinity)
        #expect(t["e"]?.value.float == -.infinity)
        #expect(t["f"]?.value.float?.isNaN == true)
        #expect(t["g"]?.value.float == 10.01)
    }

    @Test func datesAreRejectedWithAClearMessage() {
        #expect(parseError("a = 1979-05-27")?.message.contains("dates and times are not supported") == true)
        #expect(parseError("a = 07:32:00")?.message.contains("dates and times are not supported") == true)
    }

    @Test func arraysSingleAndMultiLine() throws {
        let t = try #require(parse("""
            a = [1, 2, 3]
            b = [
              "x",   # comment inside
              "y",
            ]
            c = []
            d = [[1, 2], ["a"]]
            """))
        #expect(t["a"]?.value.array?.compactMap(\.integer) == [1, 2, 3])
        #expect(t["b"]?.value.array?.compactMap(\.string) == ["x", "y"])
        #expect(t["b"]?.value.array?[1].location.line == 4)
        #expect(t["c"]?.value.array?.isEmpty == true)
        #expect(t["d"]?.value.array?.count == 2)
        #expect(parseError("a = [1 2]")?.message.contains("expected ',' or ']'") == true)
        #expect(parseError("a = [1,") != nil)
        #expect(parseError("a = [,]") != nil)
    }

    @Test func tablesAndArraysOfTables() throws {
        let t = try #require(parse("""
            top = 1
            [a.b]
            x = 1
            [[link]]
            name = "one"
            [[link]]
            name = "two"
            [link.sub]
            y = 2
            [a]
            z = 3
            """))
        #expect(t.keys == ["top", "a", "link"])
        let a = try #require(t["a"]?.value.table)
        #expect(a["b"]?.value.table?["x"]?.value.integer == 1)
        #expect(a["z"]?.value.integer == 3)
        #expect(t["a"]?.value.location.line == 10)  // defined by [a] at line 10
        let links = try #require(t["link"]?.value.array)
        #expect(links.count == 2)
        #expect(links[0].location.line == 4)
        #expect(links[1].location.line == 6)
        #expect(links[1].table?["name"]?.value.string == "two")
        #expect(links[1].table?["sub"]?.value.table?["y"]?.value.integer == 2)
    }

    @Test func dottedKeysAndInlineTables() throws {
        let t = try #require(parse("""
            a.b.c = 1
            a.b.d = "x"
            q."quoted key" = 2
            opts = { ip = "10.0.0.2", user.name = "admin" }
            [fencing.agent.options]
            k = "v"
            """))
        #expect(t["a"]?.value.table?["b"]?.value.table?["d"]?.value.string == "x")
        #expect(t["q"]?.value.table?["quoted key"]?.value.integer == 2)
        let opts = try #require(t["opts"]?.value.table)
        #expect(opts.keys == ["ip", "user"])
        #expect(opts["user"]?.value.table?["name"]?.value.string == "admin")
        #expect(t["fencing"]?.value.table?["agent"]?.value.table?["options"]?.value.table?["k"]?.value.string == "v")
    }

    @Test func duplicateKeysAndTablesAreErrors() throws {
        let e1 = try #require(parseError("a = 1\nb = 2\na = 3"))
        #expect(e1.description == "line 3, column 1: duplicate key 'a' (first defined at line 1)")
        #expect(parseError("[t]\n[t]")?.message == "table [t] is defined twice (first at line 1)")
        #expect(parseError("[t]\nx = 1\n[t.x]") != nil)
        #expect(parseError("a = [1]\n[[a]]") != nil)
        #expect(parseError("[[a]]\n[a]") != nil)
        #expect(parseError("[a]\nb.c = 1\n[a.b]") != nil)
        #expect(parseError("x = { a = 1 }\nx.b = 2") != nil)
        #expect(parseError("x = { a = 1, a = 2 }") != nil)
        #expect(parseError("a.b = 1\na = 2") != nil)
    }

    @Test func errorsSayWhatAndWhere() throws {
        let text = """
            [timing]
            keepalive_ms 100
            """
        let e = try #require(parseError(text))
        #expect(e.description == "line 2, column 14: expected '=' after key 'keepalive_ms', found '1'")
        #expect(parseError("a = 1 2")?.description == "line 1, column 7: expected end of line, found '2'")
        #expect(parseError("a = hello")?.message.contains("strings must be quoted") == true)
        #expect(parseError("a =")?.message == "missing value for key 'a'")
        #expect(parseError("[a")?.message.contains("expected ']'") == true)
        #expect(parseError("= 1")?.message == "expected a key, found '='")
        #expect(parseError("a = 1\r") != nil)
    }

    @Test func crlfLineEndings() throws {
        let t = try #require(parse("a = 1\r\nb = [\r\n 2,\r\n]\r\n"))
        #expect(t["b"]?.value.location.line == 2)
        #expect(t["b"]?.value.array?.first?.integer == 2)
    }

    @Test func invalidUTF8IsAnErrorWithItsPosition() throws {
        var bytes = Array("a = 1\nb = \"".utf8)
        bytes += [0xFF, 0x22]
        #expect(throws: TOMLError.self) { try TOMLParser.parse(bytes: bytes) }
        do {
            _ = try TOMLParser.parse(bytes: bytes)
        } catch {
            #expect(error.location == SourcePosition(line: 2, column: 6))
        }
        #expect(try TOMLParser.parse(bytes: Array("a = \"é\"".utf8))["a"]?.value.string == "é")
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = "a = " + String(repeating: "[", count: 10_000)
        #expect(parseError(deep)?.message.contains("nested too deeply") == true)
        let inline = "a = " + String(repeating: "{b=", count: 10_000)
        #expect(parseError(inline) != nil)
        let dotted = (0..<10_000).map { _ in "k" }.joined(separator: ".") + " = 1"
        #expect(parseError(dotted) != nil)
    }

    /// Random bytes and mutated valid documents must give a document or an error, never a trap.
    @Test func randomInputNeverTraps() {
        var rng = SplitMix64(seed: 0x5EED)
        let seed = Array("""
            [cluster]
            id = 42 # c
            [[link]]
            name = "eth0-hb"
            peer_mac = '52:54:00:12:34:56'
            x = [1, 0x2, 3.5e1, "s\\u00e9", { a = true }]
            s = \"\"\"multi
            line\"\"\"
            """.utf8)
        let alphabet = Array("[]{}=.,#\"'\\\n\r\t _-+:0123456789abcdefxoInf\u{00}".utf8) + [0xC3, 0xA9, 0xFF, 0x80]
        var parsed = 0
        for round in 0..<3_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(rng.next() % 200)).map { _ in
                    rng.next() % 3 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[Int(rng.next() % UInt64(alphabet.count))]
                }
            } else {
                bytes = seed
                for _ in 0..<(1 + Int(rng.next() % 4)) where !bytes.isEmpty {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 3 {
                    case 0: bytes[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                    case 1: bytes.remove(at: i)
                    default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                    }
                }
            }
            do {
                _ = try TOMLParser.parse(bytes: bytes)
                parsed += 1
            } catch {
                #expect(error.line >= 1 && error.column >= 1)
            }
        }
        // Some mutations leave the document valid: the fuzzer reaches the success path too.
        #expect(parsed > 0)
    }
}

