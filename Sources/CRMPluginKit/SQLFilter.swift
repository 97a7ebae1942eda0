/// A WHERE clause built from optional conditions, with its parameters in
/// order: list methods add one condition per filter the request sets.
public struct SQLFilter {
    public private(set) var conditions: [String] = []
    public private(set) var parameters: [SQLValue] = []

    public init() {}

    /// Adds `condition` (with `?` for each of `values`); conditions are ANDed.
    public mutating func add(_ condition: String, _ values: SQLValue...) {
        appendCondition(condition, values)
    }

    mutating func appendCondition(_ condition: String, _ values: [SQLValue]) {
        conditions.append(condition)
        parameters += values
    }

    /// "WHERE (a) AND (b)", or "" without conditions.
    public var clause: String {
        conditions.isEmpty ? "" : "WHERE " + conditions.map { "(\($0))" }.joined(separator: " AND ")
    }
}
