/// Space-separated comparators that must all hold: `>=1.2.0 <2.0.0`,
/// `=1.4.0`, `^1.2` (same major, at least 1.2); a bare version means `=`.
/// Empty means any version.
public struct VersionRange: CustomStringConvertible, Sendable {
    private enum Op: String { case ge = ">=", le = "<=", gt = ">", lt = "<", eq = "=", caret = "^" }
    private let terms: [(Op, SemanticVersion)]
    public let description: String

    public init?(_ text: String) {
        description = text
        var terms: [(Op, SemanticVersion)] = []
        for word in text.split(separator: " ") {
            // Two-character operators first, so ">=" is not read as ">" and "=…".
            let op = [Op.ge, .le, .gt, .lt, .eq, .caret].first { word.hasPrefix($0.rawValue) }
            let versionText = op.map { String(word.dropFirst($0.rawValue.count)) } ?? String(word)
            guard let version = SemanticVersion(versionText) else { return nil }
            terms.append((op ?? .eq, version))
        }
        self.terms = terms
    }

    public func contains(_ v: SemanticVersion) -> Bool {
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
