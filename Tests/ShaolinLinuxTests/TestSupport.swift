// Helpers for the Linux tests: run tools, dedicated threads, network namespaces, deadlines.
import Foundation
import Glibc
import ShaolinLinux
import SystemPackage

struct CommandFailed: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var output: String
    var description: String { "\(command.joined(separator: " ")) exited \(status): \(output)" }
}

/// Runs `args` (looked up in PATH), returns its combined output; throws on a non-zero exit
/// unless `check` is false.
@discardableResult
func run(_ args: [String], check: Bool = true) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let output = String(decoding: data, as: UTF8.self)
    if check && p.terminationStatus != 0 {
        throw CommandFailed(command: args, status: p.terminationStatus, output: output)
    }
    return output
}

private final class Box<T>: @unchecked Sendable {
    var body: (() throws -> T)?
    var result: Result<T, any Error>?
}

/// Runs `body` on a new thread and waits for it (for thread-wide state: signal masks,
/// scheduling policy, network namespace).
func onDedicatedThread<T>(_ body: @escaping () throws -> T) throws -> T {
    let box = Box<T>()
    box.body = body
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.result = Result { try box.body!() }
        done.signal()
    }
    thread.start()
    done.wait()
    return try box.result!.get()
}

/// Runs `body` on a dedicated thread inside network namespace `name` (from `ip netns add`).
func inNetworkNamespace<T>(_ name: String, _ body: @escaping () throws -> T) throws -> T {
    try onDedicatedThread {
        try NetworkNamespace.enter(path: "/var/run/netns/\(name)")
        return try body()
    }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass; returns whether it held.
func eventually(within seconds: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = SystemClock.monotonicNanos() + Int64(seconds * 1e9)
    while SystemClock.monotonicNanos() < end {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

/// Waits until `fd` is readable (via a private epoll) or `milliseconds` pass.
func waitReadable(_ fd: FileDescriptor, milliseconds: CInt) throws -> Bool {
    let ep = try Epoll.create()
    defer { try? ep.close() }
    try ep.add(fd, events: .input, token: 1)
    var events = EpollEventBuffer(capacity: 4)
    let deadline = SystemClock.monotonicNanos() + Int64(milliseconds) * 1_000_000
    while true {
        let left = (deadline - SystemClock.monotonicNanos()) / 1_000_000
        if left < 0 { return false }
        if try ep.wait(into: &events, timeoutMilliseconds: CInt(left)) > 0 { return true }
    }
}

/// A unique short suffix for names of this test run (pid-based, plus a counter).
func uniqueTag(_ prefix: String) -> String {
    "\(prefix)\(getpid() % 100_000)"
}
