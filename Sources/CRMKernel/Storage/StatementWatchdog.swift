import CRMPluginABI
import CSQLite

/// What one plugin call's SQL may use: time (from its first statement, when
/// the caller's deadline is later or absent) and the size of one string or
/// blob a statement may build.
public struct StorageLimits: Sendable {
    public var sqlTimeoutMillis: Int64 = 5_000
    public var maxValueBytes: Int32 = 8 << 20
    public init() {}

    /// From crmd's settings: any value a message can carry fits, with room.
    public init(sqlTimeoutMillis: Int64, maxMessageBytes: Int) {
        self.sqlTimeoutMillis = sqlTimeoutMillis
        maxValueBytes = Int32(clamping: max(8 << 20, maxMessageBytes + (1 << 20)))
    }
}

/// Stops a plugin's statement when its call's deadline passes, the call is
/// cancelled or its time budget is spent: SQLite's progress handler asks
/// every `interval` VM steps, so the check costs a clock read per thousand
/// steps and nothing on short statements. Armed only while a plugin
/// statement steps; the kernel's own SQL is never interrupted.
///
/// Used only by the thread owning the connection.
final class StatementWatchdog {
    static let interval: Int32 = 1000
    /// The session whose statement is stepping, nil otherwise.
    private var session: StorageSession?
    /// Why the last interrupt happened, for the error the statement returns.
    private(set) var reason: SessionError?

    func install(on connection: SQLiteConnection) {
        sqlite3_progress_handler(connection.handle, Self.interval, progress, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Runs `body` (which steps a statement) watched on behalf of `session`.
    func watch<T>(_ session: StorageSession, _ body: () throws -> T) rethrows -> T {
        self.session = session
        reason = nil
        defer { self.session = nil }
        return try body()
    }

    fileprivate func shouldInterrupt() -> Bool {
        guard let session else { return false }
        let now = Clock.unixMicros()
        if let call = session.owner {
            if call.deadlineUnixMicros != 0 && now >= call.deadlineUnixMicros {
                reason = SessionError(status: CRM_STATUS_DEADLINE_EXCEEDED,
                                      message: "statement interrupted: the call's deadline passed")
                return true
            }
            if call.isCancelled {
                reason = SessionError(status: CRM_STATUS_CANCELLED, message: "statement interrupted: the call was cancelled")
                return true
            }
        }
        if now >= session.budgetDeadlineMicros {
            reason = SessionError(status: CRM_STATUS_DEADLINE_EXCEEDED,
                                  message: "statement interrupted: the call's SQL ran past its \(session.connection.limits.sqlTimeoutMillis) ms budget (--sql-timeout-ms)")
            return true
        }
        return false
    }
}

private let progress: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { context in
    guard let context else { return 0 }
    return Unmanaged<StatementWatchdog>.fromOpaque(context).takeUnretainedValue().shouldInterrupt() ? 1 : 0
}
