import Foundation
import Glibc
import ShaolinLinux
import SystemPackage
import Testing

/// A socat-made pty "cable" between two symlinks.
final class SocatCable {
    let linkA: String, linkB: String
    private var process: Process?

    init(tag: String) {
        linkA = "/tmp/shaolin-\(tag)-a"
        linkB = "/tmp/shaolin-\(tag)-b"
    }

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["socat", "-d", "-d", "pty,raw,echo=0,link=\(linkA)", "pty,raw,echo=0,link=\(linkB)"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let ready = eventually { access(linkA, F_OK) == 0 && access(linkB, F_OK) == 0 }
        if !ready { throw CommandFailed(command: p.arguments ?? [], status: -1, output: "links never appeared") }
    }

    /// Kills socat by PID and waits for it. SIGKILL: a child spawned from a Swift
    /// concurrency (libdispatch) thread inherits a mask blocking SIGTERM, and a cut cable
    /// is abrupt anyway.
    func kill() {
        guard let p = process else { return }
        if p.isRunning { Glibc.kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        process = nil
        // A killed socat leaves its links behind: remove them so the next start can make them.
        unlink(linkA)
        unlink(linkB)
    }

    deinit { kill() }
}

/// Reads from `port` until `count` bytes arrived, the port is down, or `seconds` pass.
func readExactly(_ port: SerialPort, count: Int, seconds: Double = 5) throws -> [UInt8]? {
    var got: [UInt8] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
    defer { buffer.deallocate() }
    let end = SystemClock.monotonicNanos() + Int64(seconds * 1e9)
    while got.count < count && SystemClock.monotonicNanos() < end {
        switch try port.read(into: buffer) {
        case .bytes(let n): got += buffer[0..<n]
        case .noData: usleep(1_000)
        case .down: return nil
        }
    }
    return got
}

func writeAll(_ port: SerialPort, _ bytes: [UInt8]) throws -> Bool {
    var offset = 0
    while offset < bytes.count {
        let r = try bytes[offset...].withUnsafeBytes { try port.write($0) }
        guard case .written(let n) = r else { return false }
        offset += n
        if n == 0 { usleep(1_000) }
    }
    return true
}

/// Bytes that a cooked tty would alter: NUL, CR, LF, XON/XOFF, ^C, DEL, 0xFF...
let everyByte: [UInt8] = (0...255).map { UInt8($0) }

/// Polls `port.read` until it reports `.down` (discarding data) or `seconds` pass.
func becomesDown(_ port: SerialPort, seconds: Double = 5) throws -> Bool {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
    defer { buffer.deallocate() }
    return try eventually(within: seconds) { try port.read(into: buffer) == .down }
}

@Suite struct SerialPortTests {
    @Test func unsupportedBaudAndNonTTYAreRefused() throws {
        #expect(throws: Errno.invalidArgument) { try SerialPort(path: "/dev/null", baudRate: 12345) }
        #expect(throws: Errno.inappropriateIOCTLForDevice) { try SerialPort(path: "/dev/null", baudRate: 115200) }
        #expect(throws: Errno.noSuchFileOrDirectory) { try SerialPort(path: "/tmp/shaolin-no-such-tty") }
    }

    @Test func socatCableBothWaysDownAndReopen() throws {
        let cable = SocatCable(tag: "ser\(getpid())")
        try cable.start()
        defer { cable.kill() }
        var a = try SerialPort(path: cable.linkA, baudRate: 115200)
        defer { a.close() }
        var b = try SerialPort(path: cable.linkB, baudRate: 115200)
        defer { b.close() }
        #expect(try a.isConfiguredAsRequested() && b.isConfiguredAsRequested())

        #expect(try writeAll(a, everyByte))
        #expect(try readExactly(b, count: 256) == everyByte)
        #expect(try writeAll(b, Array("pong\r\n".utf8)))
        #expect(try readExactly(a, count: 6) == Array("pong\r\n".utf8))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        #expect(try a.read(into: buffer) == .noData)

        // The cable goes away: both ends report .down (read and write), no crash.
        cable.kill()
        #expect(try becomesDown(a))
        #expect(try becomesDown(b))
        #expect(try Array("x".utf8).withUnsafeBytes { try a.write($0) } == .down)
        // Reopen while the cable is missing: a clean error, the port stays closed.
        #expect(throws: Errno.noSuchFileOrDirectory) { try a.reopen() }
        #expect(a.fileDescriptor == nil)
        #expect(try a.read(into: buffer) == .down)

        // A new cable at the same paths: reopen by path and talk again.
        try cable.start()
        try a.reopen()
        try b.reopen()
        #expect(try writeAll(a, Array("again".utf8)))
        #expect(try readExactly(b, count: 5) == Array("again".utf8))
        #expect(try writeAll(b, everyByte))
        #expect(try readExactly(a, count: 256) == everyByte)
    }

    @Test func posixOpenptPairBothWaysAndHangUp() throws {
        let pair = try PtyPair.open()
        #expect(pair.slavePath.hasPrefix("/dev/pts/"))
        var master = try SerialPort(adopting: pair.master, baudRate: 115200)
        defer { master.close() }
        var slave = try SerialPort(path: pair.slavePath, baudRate: 115200)
        #expect(try slave.isConfiguredAsRequested())
        #expect(try master.isConfiguredAsRequested())

        #expect(try writeAll(slave, everyByte))
        #expect(try readExactly(master, count: 256) == everyByte)
        #expect(try writeAll(master, everyByte))
        #expect(try readExactly(slave, count: 256) == everyByte)
        // An adopted descriptor has no path to reopen.
        #expect(throws: Errno.badFileDescriptor) { try master.reopen() }

        // The slave side goes away: the master reports .down.
        slave.close()
        #expect(try becomesDown(master))
        #expect(try slave.read(into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == .down)

        // Another pair: now the master goes away and the slave reports .down.
        let pair2 = try PtyPair.open()
        var master2 = try SerialPort(adopting: pair2.master)
        let slave2 = try SerialPort(path: pair2.slavePath)
        #expect(try writeAll(master2, [1, 2, 3]))
        #expect(try readExactly(slave2, count: 3) == [1, 2, 3])
        master2.close()
        #expect(try becomesDown(slave2))
        #expect(try Array("x".utf8).withUnsafeBytes { try slave2.write($0) } == .down)
        var s2 = slave2
        s2.close()
    }

    @Test func hardwareFlowControlIsAppliedWhenAsked() throws {
        let pair = try PtyPair.open()
        var master = try SerialPort(adopting: pair.master)
        defer { master.close() }
        var slave = try SerialPort(path: pair.slavePath, baudRate: 921600, hardwareFlowControl: true)
        defer { slave.close() }
        #expect(try slave.isConfiguredAsRequested())
        #expect(slave.baudRate == 921600 && slave.hardwareFlowControl)
    }
}
