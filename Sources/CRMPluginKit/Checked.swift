/// Conversions and range checks of values from the wire that answer a
/// status instead of trapping. A Swift trap in a plugin is a crash of crmd,
/// so a handler never narrows a request value with a trapping initializer
/// (and adds them with `addingReportingOverflow`).
public enum Checked {
    /// `value` as a `T`, or INVALID_ARGUMENT naming the field when it does not fit.
    public static func convert<T: FixedWidthInteger, V: BinaryInteger>(
        _ value: V, to type: T.Type = T.self, _ field: @autoclosure () -> String
    ) throws -> T {
        guard let converted = T(exactly: value) else {
            throw PluginError.invalidArgument("\(field()) is \(value), outside \(T.min)...\(T.max)")
        }
        return converted
    }

    /// `value`, or INVALID_ARGUMENT naming the field and the range it must be in.
    @discardableResult
    public static func inRange<V: BinaryInteger>(
        _ value: V, _ range: ClosedRange<V>, _ field: @autoclosure () -> String
    ) throws -> V {
        guard range.contains(value) else {
            throw PluginError.invalidArgument("\(field()) is \(value); it must be in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}
