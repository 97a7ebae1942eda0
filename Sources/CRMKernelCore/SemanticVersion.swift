/// A `major.minor.patch` version, compared numerically. Minor and patch
/// may be left out (`1.2` is 1.2.0); a pre-release tag after `-` is
/// accepted and ignored.
public struct SemanticVersion: Comparable, CustomStringConvertible, Sendable {
    public var major: Int, minor: Int, patch: Int

    public init?(_ text: String) {
        let core = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        // Digits only: Int() alone would take "+1", and dropping empty parts would take "1." and "1..2".
        guard (1...3).contains(parts.count),
              parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }) else { return nil }
        let numbers = parts.compactMap { Int($0) }
        guard numbers.count == parts.count else { return nil }  // a part too big for Int
        major = numbers[0]
        minor = numbers.count > 1 ? numbers[1] : 0
        patch = numbers.count > 2 ? numbers[2] : 0
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    public var description: String { "\(major).\(minor).\(patch)" }
}
