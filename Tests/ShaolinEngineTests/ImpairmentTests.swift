// Fault tests through the impairment relay (tools/impair.py): the two nodes are joined through a
// third namespace that forwards their Ethernet frames and serial bytes with delay, jitter,
// reordering, duplication, corruption and garbage (this kernel has no netem). Each test checks the
// relay really did what it was told (its own counters, and the RTT the engine measures), that the
// engines rejected and counted the damaged frames, and that no false failover happened.
import Foundation
import Testing

@Suite(.serialized) struct ImpairmentTests {
    /// Delay and jitter on both links, well inside the deadtime: no failover, and the engine's RTT
    /// shows the delay. Then a delay beyond the deadtime on both links: the STANDBY must declare
    /// the peer dead (the control: the relay's delay is real and the engine acts on it).
    @Test func delayAndJitterInsideDeadtimeCauseNoFailoverBeyondItDo() throws {
        let lab = Lab("dly", env: ["RELAY": "1"])
        defer { lab.down() }
        try lab.up(keepalive: 100, deadtime: 600)
        try lab.wait(10, "A ACTIVE, B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        try lab.impair("eth both delay=40 jitter=10", "serial both delay=40 jitter=10")
        let before = lab.relayCount("eth", "a2b", "forwarded")
        let start = Date()
        var minRTT = Int.max
        while Date().timeIntervalSince(start) < 6 {
            #expect(lab.roles == ("ACTIVE", "STANDBY"), "after \(Date().timeIntervalSince(start)) s")
            if Date().timeIntervalSince(start) > 1, let rtt = lab.status("B")?.link("eth")?["rtt_us"] as? Int {
                minRTT = min(minRTT, rtt)
            }
            usleep(200_000)
        }
        // Each way at least 40 - 10 ms: the echoed round trip cannot be shorter than 60 ms.
        #expect(minRTT >= 59_000 && minRTT < 1_000_000, "B's eth RTT \(minRTT) µs")
        #expect(lab.relayCount("eth", "a2b", "forwarded") - before >= 40)
        #expect(lab.relayCount("serial", "a2b", "forwarded") > 0)
        #expect(!lab.log("B").contains("PEER_DEAD"))
        #expect(!lab.log("A").contains("PEER_DEAD"))

        try lab.impair("eth both delay=1500", "serial both delay=1500")
        try lab.wait(10, "B declares A dead when every frame is later than the deadtime") {
            lab.log("B").contains("SHAOLIN_EVENT=PEER_DEAD")
        }
    }

    /// Duplicated, reordered and corrupted Ethernet frames, corrupted chunks and garbage on the
    /// serial line: the damaged frames are rejected and counted by reason, no false failover.
    @Test func reorderedDuplicatedAndCorruptedFramesAreRejectedAndCountedWithoutFailover() throws {
        let lab = Lab("dmg", env: ["RELAY": "1"])
        defer { lab.down() }
        try lab.up(keepalive: 50, deadtime: 400)
        try lab.wait(10, "A ACTIVE, B STANDBY") { lab.roles == ("ACTIVE", "STANDBY") }
        try lab.wait(5, "B sees A") { lab.status("B")?.peerAlive == true }
        let rejectedBefore = (lab.status("B")?.rejected("eth") ?? [:]).values.reduce(0, +)
        try lab.impair("eth both dup=20 reorder=20 reorder_ms=120 corrupt=10 delay=2 jitter=1",
                       "serial both corrupt=10 garbage=10 garbage_len=40")
        let start = Date()
        while Date().timeIntervalSince(start) < 8 {
            #expect(lab.roles == ("ACTIVE", "STANDBY"), "after \(Date().timeIntervalSince(start)) s")
            if lab.roles != ("ACTIVE", "STANDBY") { break }
            usleep(200_000)
        }
        try lab.impair()   // stop damaging, then let the status file catch up
        usleep(400_000)
        let b = try #require(lab.status("B"))
        let rejects = b.rejected("eth")
        let dup = lab.relayCount("eth", "a2b", "duplicated")
        let corrupted = lab.relayCount("eth", "a2b", "corrupted")
        let reordered = lab.relayCount("eth", "a2b", "reordered")
        print("impaired eth a2b: duplicated \(dup), corrupted \(corrupted), reordered \(reordered); B rejected \(rejects)")
        #expect(dup >= 10 && corrupted >= 5 && reordered >= 10, "relay: dup \(dup) corrupted \(corrupted) reordered \(reordered)")
        // A duplicate is the same sequence number again; a frame held back 120 ms arrives after
        // two newer ones: both are replays or too old for the window.
        #expect((rejects["replayed"] ?? 0) + (rejects["too-old"] ?? 0) >= dup / 2, "\(rejects)")
        // One flipped bit in the 80-byte frame: the tag no longer matches (or the magic, version
        // or cluster id is wrong, when the bit lands there).
        let integrity = ["bad-mac", "bad-magic", "bad-version", "wrong-cluster", "unknown-type", "unknown-role",
                         "reserved-not-zero", "unknown-sender", "link-mismatch", "zero-incarnation"]
            .map { rejects[$0] ?? 0 }.reduce(0, +)
        #expect(integrity >= corrupted / 2, "\(rejects)")
        #expect(rejects.values.reduce(0, +) - rejectedBefore >= (dup + corrupted) / 2)
        #expect((b.rejected("serial")["framing"] ?? 0) > 0, "serial rejects \(b.rejected("serial"))")
        #expect(lab.relayCount("serial", "a2b", "garbage_chunks") > 0)
        #expect(b.link("eth")?["alive"] as? Bool == true)
        #expect(!lab.log("B").contains("PEER_DEAD"))
        #expect(!lab.log("A").contains("PEER_DEAD"))
        #expect(b.epoch == 1)
    }
}
