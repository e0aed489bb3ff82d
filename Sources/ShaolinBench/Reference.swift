// Helpers run beside the probe loop in the same run: cyclictest (rt-tests) as the kernel's
// reference wake-up latency at the same SCHED_FIFO priority and interval, and stress-ng as
// optional load. Both run through ShaolinLinux.ProcessSpawn on their own (non-real-time) threads.

import Glibc
import Histogram
import ShaolinLinux

/// Finds `name` in the usual binary directories (nil when not installed).
public func findProgram(_ name: String) -> String? {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = dir + "/" + name
        if access(p, X_OK) == 0 { return p }
    }
    return nil
}

/// The result of the cyclictest reference run.
public struct CyclictestResult: Sendable {
    public var command: String
    /// Wake-up latency in µs, or nil when cyclictest failed.
    public var histogram: Histogram<UInt64>?
    public var overflows: UInt64
    public var error: String?
}

public enum Cyclictest {
    /// Bucket limit of cyclictest's histogram (µs); later wake-ups count as overflows at the max.
    public static let histogramLimitMicros = 100_000

    public static func arguments(priority: Int, intervalMicros: Int, seconds: Int, histfile: String) -> [String] {
        // --default-system: do not write /dev/cpu_dma_latency, so the reference does not
        // tune the machine for the engine's loop running beside it.
        ["-m", "-q", "--default-system", "-t", "1", "-p", String(priority), "-i", String(intervalMicros),
         "-D", "\(seconds)s", "-h", String(histogramLimitMicros), "--histfile=\(histfile)"]
    }

    /// Runs cyclictest for `seconds` and parses its histogram file.
    public static func run(priority: Int, intervalMicros: Int, seconds: Int) -> CyclictestResult {
        guard let exe = findProgram("cyclictest") else {
            return CyclictestResult(command: "cyclictest", histogram: nil, overflows: 0, error: "cyclictest not installed (Debian package rt-tests)")
        }
        let histfile = "/tmp/shaolin-bench-cyclictest.\(getpid()).hist"
        defer { unlink(histfile) }
        let args = arguments(priority: priority, intervalMicros: intervalMicros, seconds: seconds, histfile: histfile)
        let command = ([exe] + args).joined(separator: " ")
        let result: SpawnResult
        do {
            result = try ProcessSpawn.run(SpawnOptions(executable: exe, arguments: args,
                                                       timeoutMilliseconds: (seconds + 30) * 1000))
        } catch {
            return CyclictestResult(command: command, histogram: nil, overflows: 0, error: "\(error)")
        }
        guard result.succeeded else {
            return CyclictestResult(command: command, histogram: nil, overflows: 0,
                                    error: "cyclictest \(result.termination): \(result.errorText.prefix(300))")
        }
        guard let text = readWholeFile(histfile) else {
            return CyclictestResult(command: command, histogram: nil, overflows: 0, error: "cyclictest wrote no histogram")
        }
        let parsed = parse(text)
        return CyclictestResult(command: command, histogram: parsed.histogram, overflows: parsed.overflows,
                                error: parsed.histogram.totalCount == 0 ? "cyclictest recorded no samples" : nil)
    }

    /// Parses cyclictest's `-h` output: "BUCKET COUNT" lines, "# Max Latencies: N",
    /// "# Histogram Overflows: N" (overflows are recorded at the max latency).
    public static func parse(_ text: String) -> (histogram: Histogram<UInt64>, overflows: UInt64) {
        var h = BenchHistogram.make()
        var overflows: UInt64 = 0
        var maxLatency: UInt64 = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#") {
                if let v = trailingNumber(line, after: "# Max Latencies:") { maxLatency = v }
                if let v = trailingNumber(line, after: "# Histogram Overflows:") { overflows = v }
                continue
            }
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let bucket = UInt64(parts[0]), let count = UInt64(parts[1]), count > 0 else { continue }
            _ = h.record(max(1, bucket), count: count)
        }
        if overflows > 0 { _ = h.record(max(maxLatency, UInt64(histogramLimitMicros)), count: overflows) }
        return (h, overflows)
    }

    static func trailingNumber(_ line: Substring, after prefix: String) -> UInt64? {
        guard line.hasPrefix(prefix) else { return nil }
        let rest = line.dropFirst(prefix.count).split(separator: " ", omittingEmptySubsequences: true)
        return rest.first.flatMap { UInt64($0) }
    }
}

/// Optional load: stress-ng with one worker per requested class.
public struct LoadResult: Sendable {
    public var command: String
    public var exitStatus: String
    public var error: String?
}

public enum StressLoad {
    public static let classes = ["cpu", "vm", "io"]

    /// stress-ng arguments for `classes` (a subset of cpu, vm, io) for `seconds`.
    public static func arguments(classes: [String], seconds: Int) -> [String] {
        var a: [String] = []
        for c in classes {
            switch c {
            case "cpu": a += ["--cpu", "0"]  // one worker per online CPU
            case "vm": a += ["--vm", "1", "--vm-bytes", "256M"]
            case "io": a += ["--io", "1", "--hdd", "1", "--hdd-bytes", "64M"]
            default: break
            }
        }
        return a + ["--timeout", "\(seconds)s", "--metrics-brief"]
    }

    public static func run(classes: [String], seconds: Int, workdir: String) -> LoadResult {
        guard let exe = findProgram("stress-ng") else {
            return LoadResult(command: "stress-ng", exitStatus: "not run", error: "stress-ng not installed (Debian package stress-ng)")
        }
        let args = arguments(classes: classes, seconds: seconds) + ["--temp-path", workdir]
        let command = ([exe] + args).joined(separator: " ")
        do {
            let r = try ProcessSpawn.run(SpawnOptions(executable: exe, arguments: args,
                                                      timeoutMilliseconds: (seconds + 30) * 1000, outputLimit: 16 * 1024))
            return LoadResult(command: command, exitStatus: r.termination.description,
                              error: r.succeeded ? nil : "stress-ng \(r.termination): \(r.errorText.suffix(300))")
        } catch {
            return LoadResult(command: command, exitStatus: "not run", error: "\(error)")
        }
    }
}

/// Reads a whole file as UTF-8 (nil when it cannot be opened).
public func readWholeFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Writes `text` to `path` (mode 0644). Returns an error text on failure.
public func writeWholeFile(_ path: String, _ text: String) -> String? {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return "cannot create \(path): \(String(cString: strerror(errno)))" }
    defer { close(fd) }
    var bytes = Array(text.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
        if n < 0 { if errno == EINTR { continue }; return "cannot write \(path): \(String(cString: strerror(errno)))" }
        off += n
    }
    return nil
}
