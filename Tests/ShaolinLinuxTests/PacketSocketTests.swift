import Foundation
import Glibc
import ShaolinLinux
import SystemPackage
import Testing

/// Two network namespaces joined by a veth pair, deleted by `destroy()`.
struct VethPair {
    let nsA: String, nsB: String
    let ifA: InterfaceName, ifB: InterfaceName

    init(tag: String) throws {
        nsA = "shaolin-\(tag)-a"
        nsB = "shaolin-\(tag)-b"
        ifA = try #require(InterfaceName("sh\(tag)a"))
        ifB = try #require(InterfaceName("sh\(tag)b"))
        try run(["ip", "netns", "add", nsA])
        try run(["ip", "netns", "add", nsB])
        try run(["ip", "link", "add", "\(ifA)", "netns", nsA, "type", "veth", "peer", "name", "\(ifB)", "netns", nsB])
        try setLink(a: true, up: true)
        try setLink(a: false, up: true)
    }

    func setLink(a: Bool, up: Bool) throws {
        try run(["ip", "-n", a ? nsA : nsB, "link", "set", "\(a ? ifA : ifB)", up ? "up" : "down"])
    }

    func destroy() {
        _ = try? run(["ip", "netns", "del", nsA], check: false)
        _ = try? run(["ip", "netns", "del", nsB], check: false)
    }
}

/// Receives on `socket` until a frame arrives, a non-frame result other than `.noData`
/// comes back, or `milliseconds` pass (then `.noData`).
func receive(_ socket: PacketSocket, into buffer: UnsafeMutableRawBufferPointer, milliseconds: CInt = 5_000) throws -> PacketSocket.ReceiveResult {
    let end = SystemClock.monotonicNanos() + Int64(milliseconds) * 1_000_000
    while true {
        let r = try socket.receive(into: buffer)
        if r != .noData { return r }
        let left = (end - SystemClock.monotonicNanos()) / 1_000_000
        if left <= 0 { return .noData }
        _ = try waitReadable(socket.fileDescriptor, milliseconds: CInt(left))
    }
}

func send(_ socket: PacketSocket, _ text: String, to mac: MACAddress) throws -> PacketSocket.SendResult {
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBytes { try socket.send($0, to: mac) }
}

@Suite(.serialized) struct PacketSocketTests {
    static let etherType: UInt16 = 0x88B5
    static let otherEtherType: UInt16 = 0x88B6

    @Test func framesBetweenNamespacesFilterLinkDownAndBackUp() throws {
        let veth = try VethPair(tag: "\(getpid() % 100_000)")
        defer { veth.destroy() }
        let ifA = veth.ifA, ifB = veth.ifB
        let a = try inNetworkNamespace(veth.nsA) { try PacketSocket.open(interface: ifA, etherType: Self.etherType) }
        defer { try? a.close() }
        let b = try inNetworkNamespace(veth.nsB) { try PacketSocket.open(interface: ifB, etherType: Self.etherType) }
        defer { try? b.close() }
        let otherA = try inNetworkNamespace(veth.nsA) { try PacketSocket.open(interface: ifA, etherType: Self.otherEtherType) }
        defer { try? otherA.close() }
        let otherB = try inNetworkNamespace(veth.nsB) { try PacketSocket.open(interface: ifB, etherType: Self.otherEtherType) }
        defer { try? otherB.close() }

        // The interface does not exist in the test's own namespace.
        #expect(throws: Errno.operationNotSupportedByDevice) { try PacketSocket.open(interface: ifA, etherType: Self.etherType) }

        #expect(try a.kernelFilterLength() == 4 && b.kernelFilterLength() == 4)
        #expect(a.interfaceIndex > 0 && a.etherType == 0x88B5)

        let macA = try a.macAddress(), macB = try b.macAddress()
        #expect(macA != macB && macA != .zero)
        // Cross-check against iproute2.
        #expect(try run(["ip", "-n", veth.nsA, "link", "show", "\(ifA)"]).contains(macA.description))
        #expect(try run(["ip", "-n", veth.nsB, "link", "show", "\(ifB)"]).contains(macB.description))
        #expect(try eventually { try a.linkFlags().isOperational && b.linkFlags().isOperational })

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
        defer { buffer.deallocate() }
        func text(_ n: Int) -> String { String(decoding: buffer[0..<n], as: UTF8.self) }

        // A → B with our EtherType: arrives with A's MAC.
        #expect(try send(a, "hello from A", to: macB) == .sent)
        guard case .frame(let n1, let src1, let trunc1) = try receive(b, into: buffer) else {
            Issue.record("no frame at B"); return
        }
        #expect(src1 == macA && !trunc1)
        #expect(text(n1) == "hello from A")  // veth does not pad short frames

        // B → A, broadcast.
        #expect(try send(b, "hello from B", to: .broadcast) == .sent)
        guard case .frame(let n2, let src2, _) = try receive(a, into: buffer) else {
            Issue.record("no frame at A"); return
        }
        #expect(src2 == macB && text(n2) == "hello from B")
        // Our own outgoing frame does not loop back to the sender.
        #expect(try b.receive(into: buffer) == .noData)

        // Every frame carries the kernel's receive time (CLOCK_REALTIME), even when it is read
        // long after it arrived: here 200 ms later.
        let sentAt = SystemClock.realtimeNanos()
        #expect(try send(a, "stamped", to: macB) == .sent)
        usleep(200_000)
        let readAt = SystemClock.realtimeNanos()
        var stamp: Int64 = 0
        #expect(try b.receive(into: buffer, receivedAt: &stamp) == .frame(length: 7, source: macA, truncated: false))
        #expect(stamp >= sentAt - 1_000_000 && stamp <= readAt - 150_000_000,
                "receive time \(stamp - sentAt) ns after the send, read \(readAt - sentAt) ns after it")

        // Another EtherType: the 0x88B6 socket gets it, ours does not.
        #expect(try send(otherA, "other type", to: macB) == .sent)
        guard case .frame(let n3, _, _) = try receive(otherB, into: buffer) else {
            Issue.record("0x88B6 frame not received"); return
        }
        #expect(text(n3) == "other type")
        #expect(try b.receive(into: buffer) == .noData)

        // A small buffer truncates and reports the real length.
        #expect(try send(a, "0123456789", to: macB) == .sent)
        let small = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<4])
        #expect(try receive(b, into: small) == .frame(length: 10, source: macA, truncated: true))

        // B goes down: receive reports it once, send refuses, flags show it.
        try veth.setLink(a: false, up: false)
        #expect(try receive(b, into: buffer, milliseconds: 2_000) == .linkDown)
        #expect(try !b.linkFlags().contains(.up))
        #expect(try send(b, "while down", to: macA) == .linkDown)
        #expect(try eventually { try !a.linkFlags().contains(.running) })  // A lost its carrier
        _ = try send(a, "into the void", to: macB)  // may be dropped by veth; must not throw
        #expect(try b.receive(into: buffer) == .noData)

        // Up again: the same sockets carry frames again, both ways.
        try veth.setLink(a: false, up: true)
        #expect(try eventually { try a.linkFlags().isOperational && b.linkFlags().isOperational })
        #expect(try send(a, "back again", to: macB) == .sent)
        guard case .frame(let n4, let src4, _) = try receive(b, into: buffer) else {
            Issue.record("no frame at B after link up"); return
        }
        #expect(src4 == macA && text(n4) == "back again")
        #expect(try send(b, "me too", to: macA) == .sent)
        guard case .frame(let n5, _, _) = try receive(a, into: buffer) else {
            Issue.record("no frame at A after link up"); return
        }
        #expect(text(n5) == "me too")

        // Oversized payloads are an error, not a silent drop.
        let big = UnsafeMutableRawBufferPointer.allocate(byteCount: 9000, alignment: 8)
        big.initializeMemory(as: UInt8.self, repeating: 0x5A)
        defer { big.deallocate() }
        #expect(throws: Errno.messageTooLong) { try a.send(UnsafeRawBufferPointer(big), to: macB) }
    }
}
