import CRMPluginABI
import Foundation

/// A value bound to a `?` parameter or read from a column.
public enum SQLValue: Equatable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral,
    ExpressibleByNilLiteral, ExpressibleByFloatLiteral {
    case null, integer(Int64), real(Double), text(String), blob([UInt8])

    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .real(value) }

    public var int: Int64? { if case .integer(let v) = self { return v } else { return nil } }
    public var string: String? { if case .text(let v) = self { return v } else { return nil } }
    public var bytes: [UInt8]? { if case .blob(let v) = self { return v } else { return nil } }
    public var double: Double? {
        switch self {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }
}

/// The database as a handler sees it (feature "crm.storage.v1"). The host
/// owns the transaction: a method whose .proto declares `writes` commits
/// when the handler returns normally and rolls back when it throws.
///
/// Valid only while the handler runs. Errors are `PluginError`s with the
/// status the host mapped from SQLite and SQLite's message.
public struct Database {
    let api: UnsafePointer<crm_storage_api>
    let call: OpaquePointer

    /// Runs statements without parameters or results (several allowed).
    public func exec(_ sql: String) throws {
        try check(api.pointee.exec!(call, sql))
    }

    /// Runs one statement; returns the rows changed and the last insert id.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue] = []) throws -> (changes: Int64, lastInsertID: Int64) {
        let statement = try prepare(sql)
        defer { statement.finalize() }
        try statement.bind(parameters)
        while try statement.step() {}
        return (api.pointee.changes!(call), api.pointee.last_insert_id!(call))
    }

    /// Runs one query and returns every row (use `prepare` to stream big results).
    public func query(_ sql: String, _ parameters: [SQLValue] = []) throws -> [[SQLValue]] {
        let statement = try prepare(sql)
        defer { statement.finalize() }
        try statement.bind(parameters)
        var rows: [[SQLValue]] = []
        while try statement.step() { rows.append(statement.row) }
        return rows
    }

    /// The rowid of the last INSERT on this call, and the rows the last statement changed.
    public var lastInsertID: Int64 { api.pointee.last_insert_id!(call) }
    public var changes: Int64 { api.pointee.changes!(call) }

    /// A statement to bind, step and reuse. The host caches compiled SQL, so
    /// preparing the same text on every call is cheap.
    public func prepare(_ sql: String) throws -> Statement {
        var handle: OpaquePointer?
        try check(api.pointee.prepare!(call, sql, &handle))
        return Statement(database: self, handle: handle!)
    }

    func check(_ status: Int32) throws {
        guard status != 0 else { return }
        let message = api.pointee.last_error?(call).map { String(cString: $0) } ?? "storage error"
        throw PluginError(StatusCode(rawValue: status) ?? .internal, message)
    }
}

/// A prepared statement; valid until `finalize` or the end of the handler.
public final class Statement {
    let database: Database
    let handle: OpaquePointer
    private var api: crm_storage_api { database.api.pointee }

    init(database: Database, handle: OpaquePointer) {
        self.database = database
        self.handle = handle
    }

    /// Binds parameters 1...n in order.
    public func bind(_ values: [SQLValue]) throws {
        for (i, value) in values.enumerated() { try bind(value, at: Int32(i + 1)) }
    }

    public func bind(_ value: SQLValue, at index: Int32) throws {
        let status: Int32
        switch value {
        case .null: status = api.bind_null!(handle, index)
        case .integer(let v): status = api.bind_int64!(handle, index, v)
        case .real(let v): status = api.bind_double!(handle, index, v)
        case .text(var v): status = v.withUTF8 { text in
            text.withMemoryRebound(to: CChar.self) { api.bind_text!(handle, index, $0.baseAddress, $0.count) }
        }
        case .blob(let v): status = v.withUnsafeBytes { api.bind_blob!(handle, index, $0.baseAddress, $0.count) }
        }
        try database.check(status)
    }

    /// Advances; true when a row is ready.
    public func step() throws -> Bool {
        var hasRow: Int32 = 0
        try database.check(api.step!(handle, &hasRow))
        return hasRow != 0
    }

    /// The current row's values.
    public var row: [SQLValue] {
        (0..<api.column_count!(handle)).map { column($0) }
    }

    public func column(_ index: Int32) -> SQLValue {
        switch crm_value_type(rawValue: UInt32(api.column_type!(handle, index))) {
        case CRM_VALUE_INTEGER: return .integer(api.column_int64!(handle, index))
        case CRM_VALUE_REAL: return .real(api.column_double!(handle, index))
        case CRM_VALUE_TEXT, CRM_VALUE_BLOB:
            var length = 0
            let bytes = api.column_bytes!(handle, index, &length)
            let buffer = UnsafeBufferPointer(start: bytes, count: bytes == nil ? 0 : length)
            if crm_value_type(rawValue: UInt32(api.column_type!(handle, index))) == CRM_VALUE_TEXT {
                return .text(String(decoding: buffer, as: UTF8.self))
            }
            return .blob(Array(buffer))
        default: return .null
        }
    }

    /// Back to the start with bindings cleared.
    public func reset() throws { try database.check(api.reset!(handle)) }

    public func finalize() { api.finalize!(handle) }
}
