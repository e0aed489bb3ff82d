// shaolinctl: the operator's client for shaolin.
import ArgumentParser

@main
struct ShaolinCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shaolinctl",
        abstract: "Control and test a shaolin two-node HA cluster.",
        subcommands: [Simulate.self, Demo.self, Keygen.self, Bench.self])
}
