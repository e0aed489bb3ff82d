// The watchdog petting logic (EngineHealth + HealthJudge + WatchdogKeeper) with a fake
// device, on simulated time. This machine has no /dev/watchdog; the real device is tested by
// booting a kernel with an i6300esb watchdog under qemu (whole-boot tests). The fake counts
// down like hardware does, so "the node would have been reset" is checked, not assumed.
import Glibc
import ShaolinCore
import ShaolinEngine
import ShaolinLinux
import SystemPackage
import Testing

/// A watchdog that counts down like the hardware: it "fires" when `timeout` passes without a
/// keepalive. Time is the test's simulated clock (`now`).
final class FakeWatchdog: WatchdogDevice {
    let timeout: Int64
    var now: Int64 = 0
    var lastKeepalive: Int64 = 0
    var keepalives: [Int64] = []
    var firedAt: Int64?
    var failKeepalive: Errno?
    var disarmed = false
    var closedArmed = false

    init(timeout: Int64) { self.timeout = timeout }

    /// Advances the clock, noting whether the countdown ran out on the way.
    func advance(to t: Int64) {
        if firedAt == nil && !disarmed && t - lastKeepalive > timeout { firedAt = lastKeepalive + timeout }
        now = t
    }

    func keepAlive() -> Errno? {
        if let e = failKeepalive { return e }
        if firedAt == nil && now - lastKeepalive > timeout { firedAt = lastKeepalive + timeout }
        lastKeepalive = now
        keepalives.append(now)
        return nil
    }

    func disarmAndClose() -> Errno? { disarmed = true; return nil }
    func closeArmed() { closedArmed = true }
}

private let ms: Int64 = 1_000_000

/// A simulated engine: the real-time loop wakes every `tick` (overdue by `lateness(t)`), the
/// slow side beats while `slowAlive(t)`; the keeper decides.
private struct Rig {
    let dog: FakeWatchdog
    let health = EngineHealth()
    let keeper: WatchdogKeeper
    var verdicts: [(Int64, WatchdogVerdict)] = []

    init(timeout: Int64 = 10_000 * ms, pet: Int64 = 1000 * ms, slack: Int64 = 500 * ms, slowTimeout: Int64 = 3000 * ms) {
        dog = FakeWatchdog(timeout: timeout)
        keeper = WatchdogKeeper(device: dog, health: health, petInterval: pet, slack: slack, slowSideTimeout: slowTimeout, now: 0)
    }

    mutating func run(from: Int64, to: Int64, tick: Int64 = 100 * ms, role: Role = .active,
                      lateness: (Int64) -> Int64 = { _ in 0 }, slowAlive: (Int64) -> Bool = { _ in true }) {
        var t = from
        while t <= to {
            // The loop wakes at t, `late` past the deadline it had armed.
            let late = lateness(t)
            dog.advance(to: t)
            if slowAlive(t) { health.slowSideBeat() }
            if let v = keeper.service(now: t, overdue: late, role: role) { verdicts.append((t, v)) }
            #expect(keeper.nextPetDue > t, "the loop would spin on a past deadline at \(t / ms) ms")
            t += tick
        }
    }
}

@Suite struct WatchdogKeeperTests {
    @Test func healthyEnginePetsOncePerIntervalAndNeverFires() {
        var rig = Rig()
        rig.run(from: 0, to: 60_000 * ms)
        #expect(rig.dog.firedAt == nil)
        // 60 s at one pet per second, the first at t = 0.
        #expect(rig.dog.keepalives.count == 61)
        let gaps = zip(rig.dog.keepalives.dropFirst(), rig.dog.keepalives).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 == 1000 * ms })
        #expect(rig.keeper.status.state == .armed)
        #expect(rig.keeper.status.withheld == 0)
        #expect(rig.verdicts.isEmpty)
    }

    @Test func aDeadSlowSideStopsThePetsAndTheWatchdogFires() {
        var rig = Rig()
        // The slow side's thread stops at 5 s; the real-time loop keeps running on time.
        rig.run(from: 0, to: 30_000 * ms, slowAlive: { $0 < 5_000 * ms })
        let fired = rig.dog.firedAt
        // Last beat at 4.9 s; silent beyond 3 s → no pet after ≈ 7.9 s; fires one timeout later.
        #expect(rig.dog.keepalives.last! <= 8_000 * ms)
        #expect(fired.map { $0 > 15_000 * ms && $0 <= 18_000 * ms } == true, "fired at \(String(describing: fired))")
        #expect(rig.verdicts.first?.1.reasons == .slowSideSilent)
        #expect(rig.keeper.status.state == .withholding)
        #expect(rig.keeper.status.reasons == .slowSideSilent)
    }

    @Test func aSlowSideThatResumesInTimeKeepsTheNodeUp() {
        var rig = Rig()
        // Silent from 5 s to 9 s (4 s > the 3 s limit): pets are withheld for a while, then resume.
        rig.run(from: 0, to: 30_000 * ms, slowAlive: { $0 < 5_000 * ms || $0 >= 9_000 * ms })
        #expect(rig.dog.firedAt == nil)
        #expect(rig.verdicts.map { $0.1.reasons } == [.slowSideSilent, []])
        #expect(rig.keeper.status.withheld > 0)
        #expect(rig.keeper.status.state == .armed)
    }

    @Test func aLoopLateBeyondTheSlackDoesNotPet() {
        var rig = Rig()
        // Every wake-up from 10 s on is 600 ms late (slack 500 ms): chronic lateness.
        rig.run(from: 0, to: 40_000 * ms, lateness: { $0 >= 10_000 * ms ? 600 * ms : 0 })
        #expect(rig.dog.firedAt != nil)
        #expect(rig.verdicts.first?.1.reasons == .loopLate)
        #expect(rig.verdicts.first?.1.overdue == 600 * ms)
        #expect(rig.dog.keepalives.last! < 10_000 * ms)
    }

    @Test func lateButWithinTheSlackStillPets() {
        var rig = Rig()
        rig.run(from: 0, to: 30_000 * ms, lateness: { _ in 400 * ms })
        #expect(rig.dog.firedAt == nil)
        #expect(rig.verdicts.isEmpty)
    }

    @Test func oneLateWakeUpCostsOnePetNotTheNode() {
        var rig = Rig(timeout: 2_000 * ms, pet: 500 * ms)
        rig.run(from: 0, to: 20_000 * ms, lateness: { $0 == 5_000 * ms ? 900 * ms : 0 })
        #expect(rig.dog.firedAt == nil)
        #expect(rig.verdicts.map { $0.1.reasons } == [.loopLate, []])
        #expect(rig.keeper.status.withheld == 1)
    }

    @Test func aFailedCriticalServiceStopsThePetsOnlyWhileActive() {
        var active = Rig()
        active.health.setCriticalServiceFailed(true)
        active.run(from: 0, to: 30_000 * ms, role: .active)
        #expect(active.dog.firedAt != nil)
        #expect(active.verdicts.first?.1.reasons == .criticalServiceFailed)
        // Never petted at all: the first verdict says so.
        #expect(active.verdicts.first?.1.sinceLastPet == -1)

        var standby = Rig()
        standby.health.setCriticalServiceFailed(true)
        standby.run(from: 0, to: 30_000 * ms, role: .standby)
        #expect(standby.dog.firedAt == nil)
        #expect(standby.verdicts.isEmpty)
    }

    @Test func keepaliveFailuresAreCountedAndReportedOnce() {
        var rig = Rig()
        rig.run(from: 0, to: 2_000 * ms)
        rig.dog.failKeepalive = .ioError
        rig.run(from: 2_100 * ms, to: 5_000 * ms)
        rig.dog.failKeepalive = nil
        rig.run(from: 5_100 * ms, to: 8_000 * ms)
        #expect(rig.keeper.status.keepaliveFailures >= 3)
        #expect(rig.verdicts.map { $0.1.keepaliveError } == [.ioError, nil])
        #expect(rig.dog.firedAt == nil)
    }

    @Test func cleanLeaveDisarmsOtherExitsLeaveItArmed() {
        var left = Rig()
        left.run(from: 0, to: 3_000 * ms)
        #expect(left.keeper.disarm() == nil)
        #expect(left.dog.disarmed && !left.dog.closedArmed)
        #expect(left.keeper.status.state == .disarmed)
        let pets = left.dog.keepalives.count
        left.run(from: 3_100 * ms, to: 5_000 * ms)
        #expect(left.dog.keepalives.count == pets, "petted after disarm")

        var stoodDown = Rig()
        stoodDown.run(from: 0, to: 3_000 * ms)
        stoodDown.keeper.leaveArmed()
        #expect(stoodDown.dog.closedArmed && !stoodDown.dog.disarmed)
        #expect(stoodDown.keeper.status.state == .leftArmed)
        #expect(stoodDown.keeper.disarm() == nil)  // already closed: no second close
        #expect(!stoodDown.dog.disarmed)
        stoodDown.dog.advance(to: 20_000 * ms)
        #expect(stoodDown.dog.firedAt == 13_000 * ms)
    }

    @Test func unhealthyReasonsHaveStableNames() {
        let all: UnhealthyReasons = [.loopLate, .slowSideSilent, .criticalServiceFailed]
        #expect(all.names == ["loop_late", "slow_side_silent", "critical_service_failed"])
        #expect(UnhealthyReasons().description == "healthy")
    }
}
