/// A `major.minor.patch` version, compared numerically. Minor and patch
/// may be left out (`1.2` is 1.2.0); a pre-release tag after `-` is
/// accepted and ignored.
public struct SemanticVersion: Comparable, CustomStringConvertible, Sendable {
    public var major: Int, minor: Int, patch: Int

    public init?(_ text: String) {
        let core = text.split(separator: "-", maxSplits: 1).first.map(String.init) ?? text
        let parts = core.split(separator: ".").map { Int($0) }
        guard (1...3).contains(parts.count), parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        major = parts[0]!
        minor = parts.count > 1 ? parts[1]! : 0
        patch = parts.count > 2 ? parts[2]! : 0
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    public var description: String { "\(major).\(minor).\(patch)" }
}
