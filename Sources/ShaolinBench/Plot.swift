// `--plot FILE.png`: the latency distributions as an HDR percentile plot drawn by gnuplot
// (Debian package gnuplot-nox; tools/bootstrap.sh installs it). X axis: percentile on a log
// scale of 1/(1 − p) (50 %, 90 %, 99 %, 99.9 %, …), Y axis: milliseconds on a log scale.

import Glibc
import Histogram
import ShaolinLinux

public enum PercentilePlot {
    /// One curve: (x = 1/(1−p), y = ms) points from a histogram.
    public static func points(_ h: Histogram<UInt64>) -> [(Double, Double)] {
        guard h.totalCount > 0 else { return [] }
        var out: [(Double, Double)] = []
        let top = Double(h.totalCount)  // the last point: the max, plotted at 1/(1 − (N−½)/N)
        for v in h.percentiles(ticksPerHalfDistance: 5) {
            let p = v.percentile / 100
            if p >= 1 { break }
            out.append((1 / (1 - p), Double(v.value) / 1000))
        }
        out.append((2 * top, Double(h.max) / 1000))
        return out
    }

    /// The gnuplot script for `series` data files.
    public static func script(png: String, title: String, series: [(title: String, file: String)], maxX: Double) -> String {
        var s = """
            set terminal pngcairo size 1200,750 enhanced font 'sans,11'
            set output '\(escape(png))'
            set title '\(escape(title))'
            set logscale x 10
            set logscale y 10
            set grid xtics ytics mytics
            set xlabel 'percentile'
            set ylabel 'latency (ms)'
            set key below
            set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000, '99.9999%%' 1000000)
            set xrange [1:\(max(1000, maxX))]
            set format y '%g'

            """
        let styles = ["lw 2 lc rgb '#1f77b4'", "lw 2 dt 2 lc rgb '#1f77b4'", "lw 2 lc rgb '#d62728'", "lw 2 dt 2 lc rgb '#d62728'",
                      "lw 2 lc rgb '#2ca02c'", "lw 2 lc rgb '#9467bd'", "lw 2 lc rgb '#ff7f0e'", "lw 2 lc rgb '#8c564b'",
                      "lw 2 dt 2 lc rgb '#2ca02c'", "lw 2 dt 2 lc rgb '#9467bd'"]
        let plots = series.enumerated().map { i, sr in
            "'\(escape(sr.file))' using 1:2 with lines \(styles[i % styles.count]) title '\(escape(sr.title))'"
        }
        s += "plot " + plots.joined(separator: ", \\\n     ") + "\n"
        return s
    }

    static func escape(_ s: String) -> String {
        var o = ""
        for c in s { if c == "'" { o += "''" } else { o.append(c) } }
        return o
    }

    /// Draws the report's distributions into `path` (PNG). Returns an error text on failure.
    public static func draw(_ r: BenchReport, to path: String) -> String? {
        guard let gnuplot = findProgram("gnuplot") else {
            return "gnuplot is not installed (Debian package gnuplot-nox); the report is complete without the plot"
        }
        var template = Array("/tmp/shaolin-bench-plot.XXXXXX".utf8CString)
        guard let dirPtr = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            return "cannot create a temporary directory: \(String(cString: strerror(errno)))"
        }
        let dir = String(cString: dirPtr)
        defer {
            if let d = opendir(dir) {
                while let e = readdir(d) {
                    let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                    if name != "." && name != ".." { unlink(dir + "/" + name) }
                }
                closedir(d)
            }
            rmdir(dir)
        }
        var series: [(title: String, file: String)] = []
        var maxX = 10.0
        func add(_ title: String, _ h: Histogram<UInt64>) -> String? {
            let pts = points(h)
            guard !pts.isEmpty else { return nil }
            let file = "\(dir)/s\(series.count).dat"
            let text = pts.map { "\($0.0) \($0.1)" }.joined(separator: "\n") + "\n"
            if let e = writeWholeFile(file, text) { return e }
            maxX = max(maxX, pts.last!.0)
            series.append((title, file))
            return nil
        }
        for l in r.links {
            if let e = add("\(l.name) round trip", l.rttHistogram) { return e }
            if let e = add("\(l.name) one-way (est.)", l.oneWayHistogram) { return e }
        }
        if let e = add("loop wake-up lateness (this node)", r.loopLatenessHistogram) { return e }
        if let h = r.cyclictest?.histogram, let e = add("cyclictest (same run, same priority)", h) { return e }
        if let e = add("responder loop lateness (peer)", r.peerLatenessHistogram) { return e }
        guard !series.isEmpty else { return "nothing to plot: no samples" }
        let loadText = r.load.isEmpty ? "idle" : "load " + r.load.joined(separator: ",")
        let title = "shaolin heartbeat latency: \(r.node) → \(r.peer), \(formatFixed(r.durationSeconds, digits: 0)) s, "
            + "\(formatFixed(r.intervalMs, digits: r.intervalMs < 1 ? 2 : 0)) ms interval, \(loadText)"
        let scriptPath = "\(dir)/plot.gp"
        if let e = writeWholeFile(scriptPath, script(png: path, title: title, series: series, maxX: maxX * 1.5)) { return e }
        do {
            let res = try ProcessSpawn.run(SpawnOptions(executable: gnuplot, arguments: [scriptPath], timeoutMilliseconds: 30_000))
            if !res.succeeded { return "gnuplot \(res.termination): \(res.errorText.prefix(500))" }
        } catch {
            return "cannot run gnuplot: \(error)"
        }
        return nil
    }
}
