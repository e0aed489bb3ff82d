// Timing advice: keepalive, warntime and deadtime per link for a false-failure budget, derived
// from the measured tails. The model (explained with an example in docs/benchmarks.md):
//
// A link is declared dead when no heartbeat arrives for `deadtime` D. Heartbeats leave every
// keepalive K. With J = how much later than its best a heartbeat arrives (sender's loop
// lateness + one-way latency − the smallest such value), the silence before heartbeat i+1 is
// at most (n+1)·K + J(i+1) when the n heartbeats before it were lost. So a false link death
// needs either n = ⌈…⌉ consecutive losses, or a J larger than D − (n+1)·K. Per heartbeat and
// direction the allowed probability is q = budget / (2 directions × heartbeats per year), half
// for losses, half for the tail:
//
//   losses:  p = max(forward, reverse loss) + 3/N  (N probes; 3/N is the rule-of-three bound
//            when nothing was lost); n = smallest n with pⁿ ≤ q/2 (losses independent), but
//            never less than the longest loss burst seen (bursts break independence).
//   tail:    above u = p99 of J the excesses are fitted with an exponential (mean excess β,
//            the peaks-over-threshold model with shape 0): P(J > t) ≈ 0.01·e^(−(t−u)/β).
//            t* = u + β·ln(0.01 / (q/2)), and never less than the largest J measured.
//   deadtime D = (n+1)·K + t*;  warntime W = 2·K + p99.9(J), kept between K and D;
//   worst-case detection of a real failure ≈ D + K.
//
// A run of N probes sees the tail only down to about 1/N: the flags say when the
// extrapolation is weak (few samples above p99) or the tail looks heavier than exponential
// (the largest excess far above what an exponential tail of that many samples gives), which
// makes the advice optimistic.

import Glibc
import Histogram

/// The part of a schedule-delay histogram the model uses (µs).
public struct TailSummary: Sendable, Equatable {
    public var count: UInt64
    public var min: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    /// Samples strictly above p99 and the mean of (value − p99) over them.
    public var countAboveP99: UInt64
    public var meanExcessAboveP99: Double

    public init(count: UInt64, min: Double, p99: Double, p999: Double, max: Double, countAboveP99: UInt64, meanExcessAboveP99: Double) {
        self.count = count
        self.min = min
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.countAboveP99 = countAboveP99
        self.meanExcessAboveP99 = meanExcessAboveP99
    }

    public init(_ h: Histogram<UInt64>) {
        guard h.totalCount > 0 else {
            self.init(count: 0, min: 0, p99: 0, p999: 0, max: 0, countAboveP99: 0, meanExcessAboveP99: 0)
            return
        }
        let u = h.valueAtPercentile(99.0)
        var above: UInt64 = 0
        var excess = 0.0
        for v in h.recordedValues() where v.value > u {
            above += v.count
            excess += Double(v.value - u) * Double(v.count)
        }
        self.init(count: h.totalCount, min: Double(h.min), p99: Double(u), p999: Double(h.valueAtPercentile(99.9)),
                  max: Double(h.max), countAboveP99: above, meanExcessAboveP99: above > 0 ? excess / Double(above) : 0)
    }
}

/// What the model needs about one link.
public struct AdviceInput: Sendable {
    public var link: String
    /// The keepalive the tails were measured at (the probe interval), ms.
    public var keepaliveMs: Double
    public var probesSent: UInt64
    public var probesLost: UInt64
    public var forwardLoss: Double?
    public var reverseLoss: Double?
    public var longestLossBurst: Int
    /// Schedule delay (sender lateness + one-way latency), µs.
    public var delay: TailSummary
    /// Budget of false link deaths per year.
    public var budgetPerYear: Double
    /// The configured deadtime of this link, if a configuration was read (ms).
    public var configuredDeadtimeMs: Double?
    /// Time one frame takes on a serial line, ms (nil for Ethernet).
    public var serialFrameMs: Double?

    public init(link: String, keepaliveMs: Double, probesSent: UInt64, probesLost: UInt64, forwardLoss: Double?,
                reverseLoss: Double?, longestLossBurst: Int, delay: TailSummary, budgetPerYear: Double,
                configuredDeadtimeMs: Double? = nil, serialFrameMs: Double? = nil) {
        self.link = link
        self.keepaliveMs = keepaliveMs
        self.probesSent = probesSent
        self.probesLost = probesLost
        self.forwardLoss = forwardLoss
        self.reverseLoss = reverseLoss
        self.longestLossBurst = longestLossBurst
        self.delay = delay
        self.budgetPerYear = budgetPerYear
        self.configuredDeadtimeMs = configuredDeadtimeMs
        self.serialFrameMs = serialFrameMs
    }
}

public struct Advice: Sendable {
    public var link: String
    public var keepaliveMs: Int
    public var warntimeMs: Int
    public var deadtimeMs: Int
    /// Worst-case detection of a real failure ≈ deadtime + keepalive.
    public var detectionMs: Int
    /// Per-heartbeat, per-direction probability allowed.
    public var perHeartbeatBudget: Double
    public var lossProbability: Double
    public var consecutiveLosses: Int
    public var tailThresholdMs: Double
    public var tailScaleMs: Double
    public var tailAllowanceMs: Double
    /// The arithmetic, one line per step.
    public var arithmetic: [String]
    /// Warnings for the operator ("UNSAFE …", "LOW CONFIDENCE …").
    public var flags: [String]
    /// True when the tail (not the keepalive) dominates the deadtime: a tight deadtime is unsafe.
    public var tailDominated: Bool
}

public enum AdviceModel {
    public static let millisecondsPerYear = 365.25 * 86_400 * 1_000

    public static func advise(_ a: AdviceInput) -> Advice {
        var lines: [String] = []
        var flags: [String] = []
        let k = a.keepaliveMs
        let heartbeatsPerYear = millisecondsPerYear / k
        let q = a.budgetPerYear / (2 * heartbeatsPerYear)
        let half = q / 2
        lines.append("heartbeats per year and direction at keepalive \(fmt(k)) ms: \(sci(heartbeatsPerYear)); "
            + "budget \(fmt(a.budgetPerYear)) false link death(s)/year → q = \(fmt(a.budgetPerYear)) / (2 × \(sci(heartbeatsPerYear))) = \(sci(q)) per heartbeat, q/2 = \(sci(half)) each for losses and tail")

        // Losses.
        let n = Double(max(1, a.probesSent))
        let measured = Swift.max(a.forwardLoss ?? 0, a.reverseLoss ?? 0, a.probesSent > 0 ? Double(a.probesLost) / n : 0)
        let p = Swift.min(0.999, measured + 3 / n)
        var losses = Int((log(half) / log(p)).rounded(.up))
        losses = Swift.max(0, losses)
        lines.append("loss per direction p = \(pct(measured)) + 3/\(Int(n)) = \(pct(p)); consecutive losses to cover: "
            + "⌈ln(\(sci(half))) / ln(\(fmtp(p)))⌉ = \(losses)")
        if a.longestLossBurst > losses {
            lines.append("longest loss burst measured: \(a.longestLossBurst) > \(losses) → cover \(a.longestLossBurst) (bursts are not independent)")
            losses = a.longestLossBurst
        }

        // Tail.
        let d = a.delay
        let u = Swift.max(0, d.p99 - d.min) / 1000
        let beta = Swift.max(0.001, d.meanExcessAboveP99 / 1000)
        let maxJ = Swift.max(0, d.max - d.min) / 1000
        var tStar = u
        if half < 0.01 { tStar = u + beta * log(0.01 / half) }
        lines.append("schedule delay J (lateness + one-way − best \(fmt(d.min / 1000)) ms): p99 u = \(fmt(u)) ms, "
            + "mean excess above p99 β = \(fmt(beta)) ms over \(d.countAboveP99) samples; "
            + "t* = u + β·ln(0.01 / q/2) = \(fmt(u)) + \(fmt(beta)) × \(fmt(log(0.01 / half))) = \(fmt(tStar)) ms")
        if maxJ > tStar {
            lines.append("largest J measured \(fmt(maxJ)) ms > t* → t* = \(fmt(maxJ)) ms")
            tStar = maxJ
        }

        let deadtimeRaw = Double(losses + 1) * k + tStar
        var deadtime = Int(deadtimeRaw.rounded(.up))
        deadtime = Swift.max(deadtime, Int((2 * k).rounded(.down)) + 1)  // configuration rule: deadtime > 2 × keepalive
        lines.append("deadtime = (n+1)·K + t* = \(losses + 1) × \(fmt(k)) + \(fmt(tStar)) = \(fmt(deadtimeRaw)) → \(deadtime) ms")
        var warn = Int((2 * k + Swift.max(0, d.p999 - d.min) / 1000).rounded(.up))
        warn = Swift.min(Swift.max(warn, Int(k.rounded(.down)) + 1), deadtime - 1)
        lines.append("warntime = 2·K + p99.9(J) = 2 × \(fmt(k)) + \(fmt(Swift.max(0, d.p999 - d.min) / 1000)) → \(warn) ms")
        let detection = deadtime + Int(k.rounded(.up))
        lines.append("worst-case detection of a real failure ≈ deadtime + keepalive = \(detection) ms")

        let tailDominated = tStar > 2 * k
        if tailDominated {
            flags.append("UNSAFE TIGHT DEADTIME: the tail allowance (\(fmt(tStar)) ms) exceeds two keepalives; "
                + "a deadtime of a few keepalives (\(Int((Double(losses + 1) * k).rounded(.up))) ms) would give false failovers at this load")
        }
        if let c = a.configuredDeadtimeMs, c < Double(deadtime) {
            flags.append("UNSAFE CONFIGURED DEADTIME: the configuration's deadtime \(fmt(c)) ms is below the advised \(deadtime) ms")
        }
        if d.countAboveP99 < 50 {
            flags.append("LOW CONFIDENCE: only \(d.countAboveP99) samples above p99; run longer (e.g. 10 minutes) for a trustworthy tail")
        } else {
            // The largest of m exponential excesses is about β·ln(m) above u; much more means a heavier tail.
            let expectedMax = u + beta * (log(Double(d.countAboveP99)) + 3)
            if maxJ > 2 * expectedMax {
                flags.append("HEAVY TAIL: the largest delay (\(fmt(maxJ)) ms) is far above an exponential tail's (≈ \(fmt(expectedMax)) ms); "
                    + "the extrapolation is likely optimistic — prefer a longer deadtime or find the stall's cause")
            }
        }
        if let f = a.serialFrameMs, f * 2 > k {
            flags.append("SERIAL TOO SLOW: one frame takes \(fmt(f)) ms at this baud; keepalive \(fmt(k)) ms leaves no headroom")
        }
        if a.probesSent == 0 || a.probesLost == a.probesSent {
            flags.append("NO REPLIES: nothing came back on this link; no advice possible (is the responder running?)")
        }
        return Advice(link: a.link, keepaliveMs: Int(k.rounded()), warntimeMs: warn, deadtimeMs: deadtime,
                      detectionMs: detection, perHeartbeatBudget: q, lossProbability: p, consecutiveLosses: losses,
                      tailThresholdMs: u, tailScaleMs: beta, tailAllowanceMs: tStar, arithmetic: lines, flags: flags,
                      tailDominated: tailDominated)
    }

    static func fmt(_ x: Double) -> String { formatFixed(x, digits: x < 10 ? 3 : (x < 1000 ? 1 : 0)) }
    static func fmtp(_ x: Double) -> String { formatFixed(x, digits: 6) }
    static func pct(_ x: Double) -> String { formatFixed(x * 100, digits: 3) + " %" }
    static func sci(_ x: Double) -> String { formatScientific(x) }
}

/// Fixed-point formatting without Foundation.
public func formatFixed(_ x: Double, digits: Int) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let neg = x < 0
    let r = (abs(x) * scale).rounded()
    let whole = (r / scale).rounded(.down)
    let frac = Int(r - whole * scale)
    var s = (neg && r != 0 ? "-" : "") + String(Int(whole))
    if digits > 0 {
        let f = String(frac)
        s += "." + String(repeating: "0", count: digits - f.count) + f
    }
    return s
}

/// "3.16e9" style.
public func formatScientific(_ x: Double) -> String {
    guard x.isFinite, x != 0 else { return x == 0 ? "0" : "\(x)" }
    let e = Int(log10(abs(x)).rounded(.down))
    var m = x
    if e > 0 { for _ in 0..<e { m /= 10 } } else if e < 0 { for _ in 0..<(-e) { m *= 10 } }
    return formatFixed(m, digits: 2) + "e" + String(e)
}
