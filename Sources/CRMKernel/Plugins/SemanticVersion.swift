/// A `major.minor.patch` version, compared numerically.
struct SemanticVersion: Comparable, CustomStringConvertible, Sendable {
    var major: Int, minor: Int, patch: Int

    init?(_ text: String) {
        let core = text.split(separator: "-", maxSplits: 1).first.map(String.init) ?? text
        let parts = core.split(separator: ".").map { Int($0) }
        guard (1...3).contains(parts.count), parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        major = parts[0]!
        minor = parts.count > 1 ? parts[1]! : 0
        patch = parts.count > 2 ? parts[2]! : 0
    }

    static func < (a: Self, b: Self) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    var description: String { "\(major).\(minor).\(patch)" }
}

/// Space-separated comparators that must all hold: `>=1.2.0 <2.0.0`,
/// `=1.4.0`, `^1.2` (same major, at least 1.2). Empty means any version.
struct VersionRange: CustomStringConvertible, Sendable {
    private enum Op: String { case ge = ">=", le = "<=", gt = ">", lt = "<", eq = "=", caret = "^" }
    private let terms: [(Op, SemanticVersion)]
    let description: String

    init?(_ text: String) {
        description = text
        var terms: [(Op, SemanticVersion)] = []
        for word in text.split(separator: " ") {
            let op = [Op.ge, .le, .gt, .lt, .eq, .caret].first { word.hasPrefix($0.rawValue) }
            let versionText = op.map { String(word.dropFirst($0.rawValue.count)) } ?? String(word)
            guard let version = SemanticVersion(versionText) else { return nil }
            terms.append((op ?? .eq, version))
        }
        self.terms = terms
    }

    func contains(_ v: SemanticVersion) -> Bool {
        terms.allSatisfy { op, bound in
            switch op {
            case .ge: return v >= bound
            case .le: return v <= bound
            case .gt: return v > bound
            case .lt: return v < bound
            case .eq: return v == bound
            case .caret: return v.major == bound.major && v >= bound
            }
        }
    }
}
