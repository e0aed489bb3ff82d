// A line diff (longest common subsequence) for the configuration editor's "what changes"
// view: unified-style hunks with a few lines of context.

public enum LineDiff {
    public enum Kind: String, Sendable { case same = " ", removed = "-", added = "+" }
    public struct Line: Sendable, Equatable {
        public var kind: Kind
        public var text: String
        /// Line number in the old file (removed/same) or the new file (added).
        public var oldLine: Int?
        public var newLine: Int?
    }

    /// Every line of both files, marked. Files beyond `maxLines` lines each are compared as
    /// one block replaced by the other (the LCS table would be too big).
    public static func lines(old: String, new: String, maxLines: Int = 4_000) -> [Line] {
        let a = split(old), b = split(new)
        if a.count > maxLines || b.count > maxLines {
            return a.enumerated().map { Line(kind: .removed, text: $1, oldLine: $0 + 1, newLine: nil) }
                + b.enumerated().map { Line(kind: .added, text: $1, oldLine: nil, newLine: $0 + 1) }
        }
        // Trim the common head and tail, then LCS on the middle.
        var head = 0
        while head < a.count && head < b.count && a[head] == b[head] { head += 1 }
        var tail = 0
        while tail < a.count - head && tail < b.count - head && a[a.count - 1 - tail] == b[b.count - 1 - tail] { tail += 1 }
        let am = Array(a[head..<(a.count - tail)]), bm = Array(b[head..<(b.count - tail)])
        let n = am.count, m = bm.count
        var table = [Int](repeating: 0, count: (n + 1) * (m + 1))
        if n > 0 && m > 0 {
            for i in stride(from: n - 1, through: 0, by: -1) {
                for j in stride(from: m - 1, through: 0, by: -1) {
                    table[i * (m + 1) + j] = am[i] == bm[j] ? table[(i + 1) * (m + 1) + j + 1] + 1
                        : max(table[(i + 1) * (m + 1) + j], table[i * (m + 1) + j + 1])
                }
            }
        }
        var out: [Line] = []
        for i in 0..<head { out.append(Line(kind: .same, text: a[i], oldLine: i + 1, newLine: i + 1)) }
        var i = 0, j = 0
        while i < n || j < m {
            if i < n && j < m && am[i] == bm[j] {
                out.append(Line(kind: .same, text: am[i], oldLine: head + i + 1, newLine: head + j + 1)); i += 1; j += 1
            } else if i < n && (j == m || table[(i + 1) * (m + 1) + j] >= table[i * (m + 1) + j + 1]) {
                out.append(Line(kind: .removed, text: am[i], oldLine: head + i + 1, newLine: nil)); i += 1
            } else {
                out.append(Line(kind: .added, text: bm[j], oldLine: nil, newLine: head + j + 1)); j += 1
            }
        }
        for k in 0..<tail {
            out.append(Line(kind: .same, text: a[a.count - tail + k], oldLine: a.count - tail + k + 1, newLine: b.count - tail + k + 1))
        }
        return out
    }

    /// Only the changed lines with `context` unchanged lines around them; nil entries mark gaps.
    public static func hunks(old: String, new: String, context: Int = 3) -> [Line?] {
        let all = lines(old: old, new: new)
        var keep = [Bool](repeating: false, count: all.count)
        for (i, l) in all.enumerated() where l.kind != .same {
            for k in max(0, i - context)...min(all.count - 1, i + context) { keep[k] = true }
        }
        var out: [Line?] = []
        var gap = false
        for (i, l) in all.enumerated() {
            if keep[i] {
                if gap && !out.isEmpty { out.append(nil) }
                out.append(l)
                gap = false
            } else {
                gap = true
            }
        }
        return out
    }

    static func split(_ s: String) -> [String] {
        if s.isEmpty { return [] }
        var parts = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if parts.last == "" { parts.removeLast() }
        return parts
    }
}
