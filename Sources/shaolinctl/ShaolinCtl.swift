// shaolinctl: the operator's client for shaolin.
import ArgumentParser

@main
struct ShaolinCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shaolinctl",
        abstract: "Control and test a shaolin two-node HA cluster.",
        discussion: """
            Talks to the local engine over its Unix socket (/run/shaolin/control.sock), or to a remote one \
            with --host/--port/--key (TCP, authenticated with the cluster key). Exit codes: 0 success; \
            1 the engine refused or answered an error; 2 no connection or no answer; 3 authentication \
            or permission denied; 4 --wait timed out; 64 usage error. See docs/shaolinctl.md.
            """,
        subcommands: [Status.self, Menu.self, Switchover.self, Standby.self, Maintenance.self, FenceConfirm.self,
                      Reload.self, Log.self, Rule.self, ResetLateness.self, Ping.self, Simulate.self, Demo.self, Keygen.self, Bench.self])
}
