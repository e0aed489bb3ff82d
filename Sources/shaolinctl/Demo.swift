import ArgumentParser
import ShaolinSimulation

/// `shaolinctl demo`: a readable failover story from the simulator.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a simulated failover: boot, standby, crash of the ACTIVE, fence, takeover.")
    func run() throws {
        let r = SimulationRunner.replay(seed: 0, options: SimulationOptions())
        for l in r.trace { print(l) }
    }
}
