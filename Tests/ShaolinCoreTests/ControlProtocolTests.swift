// The control protocol's shared pieces: the Foundation-free JSON parser and writer (RFC 8259
// cases, limits, random garbage), request decoding with its error codes, and the HMAC
// challenge–response proofs.

import Testing

import ShaolinCore

@Suite struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let v = try JSONValue.parse(#" {"a": [1, -2, 3.5, 1e3, true, false, null], "s": "x\"\\\/\n\u00e9\ud83d\ude00", "o": {}} "#)
        #expect(v["a"] == .array([.int(1), .int(-2), .double(3.5), .double(1000), .bool(true), .bool(false), .null]))
        #expect(v["s"]?.stringValue == "x\"\\/\né😀")
        #expect(v["o"] == .object([]))
        #expect(try JSONValue.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSONValue.parse("0") == .int(0))
        #expect(try JSONValue.parse("\"h\u{e9}llo\"").stringValue == "héllo")
    }

    @Test func rejectsWhatRFC8259Rejects() {
        let bad: [(String, String)] = [
            ("", "unexpected end"), ("{", "end of text"), ("[1,]", "expected a value"), ("{\"a\":1,}", "member name"),
            ("01", "leading zeros"), ("1.", "digit after"), ("-", "expected a digit"), ("1e", "exponent"),
            ("\"a\u{01}\"", "control character"), ("\"\\x\"", "invalid escape"), ("\"\\ud800\"", "lone high surrogate"),
            ("\"\\udc00\"", "lone low surrogate"), ("tru", "literal"), ("nul", "literal"), ("{\"a\" 1}", "expected ':'"),
            ("[1 2]", "expected ',' or ']'"), ("{\"a\":1,\"a\":2}", "duplicate member"), ("1 2", "after the value"),
            ("'a'", "expected a value"), ("\"abc", "unterminated"), ("1e999", "out of range"), ("NaN", "expected a value"),
        ]
        for (text, fragment) in bad {
            do {
                _ = try JSONValue.parse(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.contains(fragment), "\(text): \(error)")
            }
        }
    }

    @Test func rejectsInvalidUTF8WithItsOffset() {
        for bytes: [UInt8] in [[0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22]] {
            #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes: bytes) }
        }
        do {
            _ = try JSONValue.parse(bytes: [0x5B, 0x31, 0x2C, 0xFF])
        } catch {
            #expect(error.offset == 3)
        }
    }

    @Test func enforcesLimits() {
        let limits = JSONLimits(maxBytes: 100, maxDepth: 3, maxStringBytes: 10, maxMembers: 4)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(String(repeating: " ", count: 101) + "1", limits: limits) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse("[[[[1]]]]", limits: limits) }
        #expect((try? JSONValue.parse("[[[1]]]", limits: limits)) != nil)
        #expect(throws: JSONParseError.self) { try JSONValue.parse("\"12345678901234\"", limits: limits) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse("[1,2,3,4,5]", limits: limits) }
        // Deep nesting at the default limit neither crashes nor recurses without bound.
        #expect(throws: JSONParseError.self) { try JSONValue.parse(String(repeating: "[", count: 100_000)) }
    }

    @Test func writerRoundTripsAndEscapes() throws {
        let v = JSONValue.object([("a", .string("line\nbreak \"q\" \u{01} \u{2028}")), ("b", .array([.int(-5), .double(0.25), .null, .bool(true)])),
                                  ("c", .object([("d", .double(3))]))])
        let text = v.compact
        #expect(!text.contains("\n"))
        #expect(text.contains("\\u0001") && text.contains("\\u2028"))
        #expect(try JSONValue.parse(text) == v)
        #expect(JSONValue.double(.nan).compact == "null")
    }

    @Test func randomGarbageNeverTraps() {
        var rng = SplitMix64(seed: 0xC0FFEE)
        let alphabet = Array("{}[]\",:0123456789.-+eEtruefalsn \\u\n\t".utf8) + [0x00, 0xC3, 0xA9, 0xFF, 0xED]
        var accepted = 0
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 40)
            let bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            if let v = try? JSONValue.parse(bytes: bytes) {
                accepted += 1
                // Whatever parses must survive a write/parse round trip.
                #expect((try? JSONValue.parse(v.compact)) == v)
            }
        }
        #expect(accepted > 0)
    }
}

@Suite struct ControlRequestTests {
    func decode(_ s: String) -> Result<ControlRequest, RequestDecodeError> {
        let bytes = Array(s.utf8)
        return bytes.withUnsafeBufferPointer { ControlRequest.decode($0) }
    }

    func error(_ s: String) -> (ControlErrorCode, String, JSONValue?)? {
        if case .failure(let e) = decode(s) { return (e.error.code, e.error.message, e.id) }
        return nil
    }

    @Test func decodesEveryOperation() throws {
        let cases: [(String, ControlOperation)] = [
            (#"{"op":"status"}"#, .status), (#"{"op":"ping","v":1}"#, .ping), (#"{"op":"switchover"}"#, .switchover),
            (#"{"op":"standby"}"#, .standby), (#"{"op":"maintenance","on":true}"#, .maintenance(true)),
            (#"{"op":"maintenance","on":false}"#, .maintenance(false)), (#"{"op":"fence-confirm"}"#, .fenceConfirm(confirmed: false)),
            (#"{"op":"fence-confirm","confirm":true}"#, .fenceConfirm(confirmed: true)), (#"{"op":"reload"}"#, .reload(dryRun: false)),
            (#"{"op":"reload","dry_run":true}"#, .reload(dryRun: true)), (#"{"op":"log"}"#, .log(lines: 50, since: nil)),
            (#"{"op":"log","lines":5,"since":9}"#, .log(lines: 5, since: 9)),
            (#"{"op":"rule","action":"restart","name":"web"}"#, .rule(action: .restart, name: "web")),
            (#"{"op":"rule","action":"enable","name":"web"}"#, .rule(action: .enable, name: "web")),
            (#"{"op":"rule","action":"disable","name":"web"}"#, .rule(action: .disable, name: "web")),
            (#"{"op":"rule","action":"start","name":"web"}"#, .rule(action: .start, name: "web")),
            (#"{"op":"rule","action":"stop","name":"db"}"#, .rule(action: .stop, name: "db")),
            (#"{"op":"rule","action":"reset-statistics","name":"web"}"#, .rule(action: .resetStatistics, name: "web")),
            (#"{"op":"reset-lateness"}"#, .resetLateness),
        ]
        for (text, op) in cases {
            guard case .success(let r) = decode(text) else { Issue.record("rejected \(text)"); continue }
            #expect(r.operation == op, "\(text)")
            // Clients encode the same request the server decodes.
            let again = Array(r.encode().utf8).withUnsafeBufferPointer { ControlRequest.decode($0) }
            #expect((try? again.get())?.operation == op)
        }
        guard case .success(let r) = decode(#"{"id":"abc","op":"status"}"#) else { Issue.record("id"); return }
        #expect(r.id == .string("abc"))
    }

    @Test func everyBadRequestGetsItsCodeAndMessage() {
        let cases: [(String, ControlErrorCode, String)] = [
            ("not json", .parseError, "invalid JSON at byte 0"),
            ("[1]", .badRequest, "must be a JSON object"),
            (#"{"id":1}"#, .badRequest, "missing \"op\""),
            (#"{"op":7}"#, .badRequest, "\"op\" must be a string"),
            (#"{"op":"dance"}"#, .unknownOp, "unknown op \"dance\""),
            (#"{"op":"status","v":2}"#, .unsupportedVersion, "version 2"),
            (#"{"op":"status","extra":1}"#, .badRequest, "unknown member \"extra\""),
            (#"{"op":"maintenance"}"#, .badRequest, "needs \"on\""),
            (#"{"op":"maintenance","on":"yes"}"#, .badRequest, "true or false"),
            (#"{"op":"log","lines":0}"#, .badRequest, "\"lines\""),
            (#"{"op":"log","lines":100000}"#, .badRequest, "\"lines\""),
            (#"{"op":"rule","action":"explode","name":"x"}"#, .badRequest, "one of enable, disable, start, stop, restart, reset-statistics"),
            (#"{"op":"rule","action":"reset_statistics","name":"x"}"#, .badRequest, "reset-statistics"),
            (#"{"op":"rule","action":7,"name":"x"}"#, .badRequest, "rule needs \"action\""),
            (#"{"op":"rule","action":"enable"}"#, .badRequest, "needs \"name\""),
            (#"{"op":"auth","client_nonce":"zz","mac":"00"}"#, .badRequest, "client_nonce"),
            (#"{"op":"status","id":[1]}"#, .badRequest, "\"id\" must be"),
        ]
        for (text, code, fragment) in cases {
            guard let (c, m, _) = error(text) else { Issue.record("accepted \(text)"); continue }
            #expect(c == code, "\(text): \(c)")
            #expect(m.contains(fragment), "\(text): \(m)")
        }
        // The id is echoed even when the request is bad.
        #expect(error(#"{"id":42,"op":"dance"}"#)?.2 == .int(42))
    }

    @Test func responsesAreSingleLines() throws {
        let ok = ControlResponse.ok(id: .int(3), .object([("x", .string("a\nb"))]))
        #expect(ok.hasSuffix("\n") && ok.dropLast().firstIndex(of: "\n") == nil)
        let err = ControlResponse.error(id: nil, ControlError(.invalidConfig, "bad", details: ["line 1: x"]))
        let v = try JSONValue.parse(String(err.dropLast()))
        #expect(v["ok"] == .bool(false))
        #expect(v["error"]?["code"]?.stringValue == "invalid_config")
        #expect(v["error"]?["details"] == .array([.string("line 1: x")]))
    }

    @Test func authProofsBindKeyChallengeAndNonce() {
        let key = Array(repeating: UInt8(7), count: 32)
        let c = Array(repeating: UInt8(1), count: 32), n = Array(repeating: UInt8(2), count: 32)
        let mac = ControlAuthProof.client(key: key, challenge: c, clientNonce: n)
        #expect(mac.count == 32)
        #expect(ControlAuthProof.equal(mac, ControlAuthProof.client(key: key, challenge: c, clientNonce: n)))
        var otherKey = key
        otherKey[31] ^= 1
        #expect(!ControlAuthProof.equal(mac, ControlAuthProof.client(key: otherKey, challenge: c, clientNonce: n)))
        #expect(!ControlAuthProof.equal(mac, ControlAuthProof.client(key: key, challenge: n, clientNonce: c)))
        // The server's proof differs from the client's (a reflected answer proves nothing).
        #expect(!ControlAuthProof.equal(mac, ControlAuthProof.server(key: key, challenge: c, clientNonce: n)))
        #expect(Hex.decode(Hex.encode([0, 255, 16])) == [0, 255, 16])
        #expect(Hex.decode("abc") == nil && Hex.decode("zz") == nil)
    }
}
