/// Conversions and arithmetic on values from the wire that answer a status
/// instead of trapping. A Swift trap in a plugin is a crash of crmd, so a
/// handler never narrows or adds request values with the trapping operators.
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

    /// `a + b`, or OUT_OF_RANGE saying what overflowed (a total of money, say).
    public static func add<T: FixedWidthInteger>(_ a: T, _ b: T, _ what: @autoclosure () -> String) throws -> T {
        let (sum, overflow) = a.addingReportingOverflow(b)
        if overflow { throw PluginError(.outOfRange, "\(what()) overflows \(T.self) (\(a) + \(b))") }
        return sum
    }

    /// `a * b`, or OUT_OF_RANGE saying what overflowed.
    public static func multiply<T: FixedWidthInteger>(_ a: T, _ b: T, _ what: @autoclosure () -> String) throws -> T {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        if overflow { throw PluginError(.outOfRange, "\(what()) overflows \(T.self) (\(a) × \(b))") }
        return product
    }
}
