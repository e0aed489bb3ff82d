// When arriving frames wake the real-time loop, against real engines (tools/lab.sh: two network
// namespaces, a veth pair, a pty serial cable). By default (`[realtime] wake_on_frames = false`)
// the loop wakes at its own deadlines only and reads every link then: a flood of frames with our
// EtherType must not add wake-ups, every frame must still be read and judged, and the Ethernet
// round-trip estimate must stay exact (frames are dated by their kernel receive time, not by the
// tick that read them). With `wake_on_frames = true` the same flood wakes the loop per frame.
import Foundation
import ShaolinCore
import Testing

@Suite(.serialized) struct FrameWakeupLabTests {
    /// Bad-MAC frames with our EtherType, `batches` × 20, one batch every 5 ms, from A's side.
    static func flood(_ lab: Lab, batches: Int) throws {
        let py = """
            import socket, time
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('hb0', 0))
            hdr = bytes.fromhex('025a0000000b' '025a0000000a' '88b5')
            frame = hdr + b'SH\\x01\\x01' + (4242).to_bytes(4, 'big') + b'\\x00\\x01' + bytes(70)
            for i in range(\(batches)):
                for j in range(20): s.send(frame)
                time.sleep(0.005)
            """
        try py.write(toFile: "\(lab.dir)/flood.py", atomically: true, encoding: .utf8)
        try lab.run("ip netns exec shl-\(lab.id)-a python3 \(lab.dir)/flood.py")
    }

    struct Sample {
        var wakeups: Int64
        var deadlines: Int64
        var badMAC: Int64
        var rttMicroseconds: Int64
        init?(_ s: JSONValue?) {
            guard let s, let w = s["loop_wakeups"]?.intValue, let d = s["loop_wakeup_us"]?["count"]?.intValue,
                  let eth = s["links"]?.arrayValue?.first(where: { $0["name"]?.stringValue == "eth" }) else { return nil }
            wakeups = w
            deadlines = d
            badMAC = eth["rejected"]?["bad-mac"]?.intValue ?? 0
            rttMicroseconds = eth["rtt_us"]?.intValue ?? -1
        }
    }

    @Test func byDefaultFramesDoNotWakeTheLoopAndAreStillReadAndDated() throws {
        let lab = Lab("tick")
        defer { lab.down() }
        try lab.up(keepalive: 20, deadtime: 600)
        try lab.wait(10, "A ACTIVE, B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        try lab.wait(5, "both see each other") { lab.status("A")?.peerAlive == true && lab.status("B")?.peerAlive == true }
        #expect(lab.controlStatus("B")?["wake_on_frames"]?.boolValue == false)
        let before = try #require(Sample(lab.controlStatus("B")))
        try Self.flood(lab, batches: 200)  // 4,000 frames in ≥ 1 s
        try lab.wait(5, "B read and rejected every flood frame") { (Sample(lab.controlStatus("B"))?.badMAC ?? 0) - before.badMAC >= 4_000 }
        let after = try #require(Sample(lab.controlStatus("B")))
        let wakeups = after.wakeups - before.wakeups
        let deadlines = after.deadlines - before.deadlines
        print("wake_on_frames=false: \(wakeups) wake-ups for \(deadlines) deadlines while \(after.badMAC - before.badMAC) frames arrived; eth RTT \(after.rttMicroseconds) us")
        // Besides the deadlines, only the slow side's rare wake-ups (control requests) remain.
        #expect(deadlines > 0 && wakeups <= deadlines + deadlines / 5 + 10, "\(wakeups) wake-ups for \(deadlines) deadlines")
        // A frame read at the next tick but dated at its arrival: the round trip over a veth is
        // well under a millisecond, the tick period is 20 ms.
        #expect(after.rttMicroseconds >= 0 && after.rttMicroseconds < 5_000, "eth RTT \(after.rttMicroseconds) us")
        #expect(lab.roles == ("ACTIVE", "STANDBY"))
        #expect(!lab.log("B").contains("PEER_DEAD"))
    }

    @Test func withWakeOnFramesEveryFrameWakesTheLoop() throws {
        let lab = Lab("wake", env: ["WAKE_ON_FRAMES": "true"])
        defer { lab.down() }
        try lab.up(keepalive: 20, deadtime: 600)
        try lab.wait(10, "A ACTIVE, B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        #expect(lab.controlStatus("B")?["wake_on_frames"]?.boolValue == true)
        let before = try #require(Sample(lab.controlStatus("B")))
        try Self.flood(lab, batches: 200)
        try lab.wait(5, "B read and rejected every flood frame") { (Sample(lab.controlStatus("B"))?.badMAC ?? 0) - before.badMAC >= 4_000 }
        let after = try #require(Sample(lab.controlStatus("B")))
        let wakeups = after.wakeups - before.wakeups
        let deadlines = after.deadlines - before.deadlines
        print("wake_on_frames=true: \(wakeups) wake-ups for \(deadlines) deadlines while \(after.badMAC - before.badMAC) frames arrived; eth RTT \(after.rttMicroseconds) us")
        // One wake-up per batch at least (the loop drains a batch that arrives while it runs in
        // the same wake-up), on top of the deadlines.
        #expect(wakeups >= deadlines + 150, "\(wakeups) wake-ups for \(deadlines) deadlines")
        #expect(after.rttMicroseconds >= 0 && after.rttMicroseconds < 5_000, "eth RTT \(after.rttMicroseconds) us")
        #expect(lab.roles == ("ACTIVE", "STANDBY"))
    }
}
