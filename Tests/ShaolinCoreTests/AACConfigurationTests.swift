// [aac] and [[aac.rule]]: defaults, every value rule with its key path and line, the
// effective text round trip, and the example file.
import Foundation
import Testing

import ShaolinCore

private let base = minimalConfigurationText + "\n"

private func load(_ aac: String) -> ConfigurationLoad { Configuration.load(base + aac) }
private func errors(_ aac: String) -> [String] { load(aac).errors.map(\.description) }
/// Line numbers of the appended text start after the base.
private let baseLines = base.split(separator: "\n", omittingEmptySubsequences: false).count - 1

@Suite struct AACConfigurationTests {
    @Test func noAACTableMeansNoRules() throws {
        let c = try #require(Configuration.load(base).configuration)
        #expect(c.aac.rules.isEmpty)
        #expect(c.aac.agentDirectory == "/usr/lib/shaolin/agents")
    }

    @Test func ruleDefaultsAndAllKeys() throws {
        let r = load("""
            [aac]
            agent_dir = "/opt/agents/"

            [[aac.rule]]
            name = "web"
            agent = "http"
            params = { url = "http://127.0.0.1/", expect_status = 200, insecure = false }

            [[aac.rule]]
            name = "db"
            description = "MariaDB on the shared disk"
            agent = "/usr/local/lib/db-agent"
            args = ["--verbose"]
            interval_ms = 100
            timeout_ms = 3000
            startup_grace_ms = 0
            start = ["/usr/bin/systemctl", "start", "mariadb"]
            stop = ["/usr/bin/systemctl", "stop", "mariadb"]
            restart = ["/usr/bin/systemctl", "restart", "mariadb"]
            command_timeout_ms = 90000
            max_restarts = 5
            restart_window_ms = 120000
            failover = false
            critical = true
            disabled = true
            """)
        #expect(r.errors.isEmpty, "\(r.errors)")
        let c = try #require(r.configuration)
        #expect(c.aac.agentDirectory == "/opt/agents")
        #expect(c.aac.rules.count == 2)
        let web = c.aac.rules[0]
        #expect(web.name == "web" && web.agent == "http" && web.description == "")
        #expect(c.aac.agentPath(of: web) == "/opt/agents/http")
        #expect(web.params.map(\.name) == ["url", "expect_status", "insecure"])
        #expect(web.params.map(\.value) == ["http://127.0.0.1/", "200", "false"])
        #expect(web.intervalMs == 10_000 && web.timeoutMs == 20_000 && web.startupGraceMs == 60_000)
        #expect(web.start == nil && web.stop == nil && web.restart == nil && web.commandTimeoutMs == 60_000)
        #expect(web.maxRestarts == 3 && web.restartWindowMs == 600_000)
        #expect(web.failover && !web.critical && !web.disabled)
        let db = c.aac.rules[1]
        #expect(c.aac.agentPath(of: db) == "/usr/local/lib/db-agent")
        #expect(db.args == ["--verbose"] && db.intervalMs == 100 && db.timeoutMs == 3000 && db.startupGraceMs == 0)
        #expect(db.start == ["/usr/bin/systemctl", "start", "mariadb"])
        #expect(db.restart?.last == "mariadb" && db.stop?[1] == "stop")
        #expect(db.commandTimeoutMs == 90_000 && db.maxRestarts == 5 && db.restartWindowMs == 120_000)
        #expect(!db.failover && db.critical && db.disabled)
        #expect(Configuration.AACRule.environmentName(ofParameter: "expect_status") == "SHAOLIN_PARAM_EXPECT_STATUS")
    }

    @Test func intervalBelow100msIsRejectedWithLineAndKey() {
        let e = errors("""
            [[aac.rule]]
            name = "web"
            agent = "http"
            interval_ms = 99
            """)
        #expect(e == ["line \(baseLines + 4): aac.rule[0].interval_ms: must be at least 100 ms (checks run agents as processes), got 99"])
    }

    @Test func everyBadValueIsReportedInOnePass() {
        let e = errors("""
            [aac]
            agent_dir = "relative/dir"

            [[aac.rule]]
            name = "bad name!"
            agent = "../escape"
            args = ["ok", 3]
            timeout_ms = 50
            start = []
            stop = ["systemctl", "stop", "x"]
            max_restarts = -1
            restart_window_ms = 10
            failover = "yes"
            critical = 1
            disabled = "no"
            params = { "bad-name" = "x", list = [1] }
            colour = "blue"

            [[aac.rule]]
            agent = "tcp"
            """)
        let l = baseLines
        let expected = [
            "line \(l + 2): aac.agent_dir: must be an absolute path, got \"relative/dir\"",
            "line \(l + 5): aac.rule[0].name: must be 1 to 32 characters of A-Z a-z 0-9 _ . -, got \"bad name!\"",
            "line \(l + 6): aac.rule[0].agent: must be a built-in agent's name (process, systemd, tcp, http, mysql, apache, or another file in [aac] agent_dir) or an absolute path, got \"../escape\"",
            "line \(l + 7): aac.rule[0].args[1]: expected a string, got a integer",
            "line \(l + 8): aac.rule[0].timeout_ms: must be between 100 and 3600000, got 50",
            "line \(l + 9): aac.rule[0].start: must list the program and its arguments, e.g. [\"/usr/sbin/apachectl\", \"-k\", \"start\"]; got an empty array",
            "line \(l + 10): aac.rule[0].stop: the program (first element) must be an absolute path, got \"systemctl\"",
            "line \(l + 11): aac.rule[0].max_restarts: must be between 0 and 1000, got -1",
            "line \(l + 12): aac.rule[0].restart_window_ms: must be between 1000 and 604800000, got 10",
            "line \(l + 13): aac.rule[0].failover: expected true or false, got a string \"yes\"",
            "line \(l + 14): aac.rule[0].critical: expected true or false, got an integer 1",
            "line \(l + 15): aac.rule[0].disabled: expected true or false, got a string \"no\"",
            "line \(l + 16): aac.rule[0].params.bad-name: parameter names must be letters, digits and '_' (they become SHAOLIN_PARAM_<NAME>), got \"bad-name\"",
            "line \(l + 16): aac.rule[0].params.list: agent parameters must be strings, integers or booleans, got a array",
            "line \(l + 17): aac.rule[0].colour: unknown key 'colour' in [[aac.rule]] #0",
            "line \(l + 19): aac.rule[1].name: required key is missing from [[aac.rule]] #1",
        ]
        #expect(e == expected, "\(e.joined(separator: "\n"))")
    }

    @Test func duplicateNamesTyposAndWrongShapes() {
        #expect(errors("""
            [[aac.rule]]
            name = "web"
            agent = "http"
            [[aac.rule]]
            name = "web"
            agent = "tcp"
            """) == ["line \(baseLines + 5): aac.rule[1].name: rule name \"web\" is already used by aac.rule[0] (line \(baseLines + 2))"])
        #expect(errors("""
            [[aac.rule]]
            name = "web"
            agent = "http"
            intervall_ms = 500
            """) == ["line \(baseLines + 4): aac.rule[0].intervall_ms: unknown key 'intervall_ms' in [[aac.rule]] #0 (did you mean 'interval_ms'?)"])
        #expect(errors("""
            [aac]
            rule = "web"
            """) == ["line \(baseLines + 2): aac.rule: rules must be written as [[aac.rule]] (an array of tables)"])
        #expect(Configuration.load("aac = 3\n" + base).errors.map(\.description) == ["line 1: aac: expected a table, got an integer 3"])
        #expect(errors("""
            [[aac.rule]]
            name = "web"
            """) == ["line \(baseLines + 1): aac.rule[0].agent: required key is missing from [[aac.rule]] #0"])
        #expect(errors("""
            [[aac.rule]]
            name = "web"
            agent = "http"
            params = { PORT = "1", port = "2" }
            """) == ["line \(baseLines + 4): aac.rule[0].params.port: 'port' and 'PORT' both become SHAOLIN_PARAM_PORT"])
    }

    @Test func riskyTimingsWarn() throws {
        let r = load("""
            [[aac.rule]]
            name = "web"
            agent = "http"
            interval_ms = 5000
            restart_window_ms = 2000
            timeout_ms = 60000
            """)
        #expect(r.errors.isEmpty)
        let w = r.warnings.map(\.description)
        #expect(w.contains { $0.hasPrefix("line \(baseLines + 5): aac.rule[0].restart_window_ms: restart_window_ms (2000) is shorter than interval_ms (5000)") })
        #expect(w.contains { $0.hasPrefix("line \(baseLines + 6): aac.rule[0].timeout_ms: timeout_ms (60000) is more than ten times") })
    }

    @Test func effectiveTextRoundTrips() throws {
        let c = try #require(load("""
            [aac]
            agent_dir = "/opt/a"
            [[aac.rule]]
            name = "web"
            description = "say \\"hi\\""
            agent = "http"
            args = ["a b", "c\\\\d"]
            params = { url = "http://x/", "weird_key" = "v" }
            restart = ["/bin/true"]
            [[aac.rule]]
            name = "db"
            agent = "/x/y"
            disabled = true
            failover = false
            """).configuration)
        let text = c.effectiveText()
        #expect(text.contains("[[aac.rule]]   # aac.rule[1]"))
        let again = try #require(Configuration.load(text).configuration, "\(Configuration.load(text).errors)")
        #expect(again == c)
        #expect(again.effectiveText() == text)
    }

    @Test func exampleFileRulesLoad() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/shaolin.example.toml")
        let c = try #require(Configuration.load(try String(contentsOf: url, encoding: .utf8)).configuration)
        #expect(c.aac.rules.map(\.name) == ["web", "database"])
    }
}
