import CRMPluginABI
import CSQLite

extension StorageSession {
    /// SQLite's result as a status with SQLite's message (or the denial, or
    /// why the watchdog interrupted, which say more).
    func error(_ rc: Int32) -> SessionError {
        let db = connection.sqlite.handle
        let primary = rc & 0xff
        if primary == SQLITE_INTERRUPT, let reason = connection.watchdog.reason {
            // An interrupted write may have taken the transaction with it.
            return writable ? fail(reason) : reason
        }
        // A denied function (load_extension) comes back as SQLITE_ERROR, not SQLITE_AUTH.
        if primary == SQLITE_AUTH || primary == SQLITE_ERROR, let denial = connection.sqlite.authorizer.denial {
            return SessionError(status: CRM_STATUS_PERMISSION_DENIED, message: denial)
        }
        if primary == SQLITE_READONLY && !writable {
            return SessionError(status: CRM_STATUS_FAILED_PRECONDITION,
                                message: "this method is not declared as writing (CRM_METHOD_FLAG_WRITES); it cannot change the database")
        }
        return SessionError(status: Self.status(for: rc), message: String(cString: sqlite3_errmsg(db)))
    }

    // Extended result codes are macros Swift cannot import.
    private static let constraintPrimaryKey = SQLITE_CONSTRAINT | (6 << 8)
    private static let constraintUnique = SQLITE_CONSTRAINT | (8 << 8)
    private static let constraintRowID = SQLITE_CONSTRAINT | (10 << 8)

    static func status(for rc: Int32) -> crm_status {
        switch rc {
        case constraintUnique, constraintPrimaryKey, constraintRowID:
            return CRM_STATUS_ALREADY_EXISTS
        default: break
        }
        switch rc & 0xff {
        case SQLITE_CONSTRAINT, SQLITE_MISMATCH: return CRM_STATUS_FAILED_PRECONDITION
        case SQLITE_AUTH, SQLITE_PERM: return CRM_STATUS_PERMISSION_DENIED
        case SQLITE_BUSY, SQLITE_LOCKED: return CRM_STATUS_UNAVAILABLE
        case SQLITE_FULL, SQLITE_TOOBIG, SQLITE_NOMEM: return CRM_STATUS_RESOURCE_EXHAUSTED
        case SQLITE_RANGE: return CRM_STATUS_OUT_OF_RANGE
        case SQLITE_CORRUPT, SQLITE_NOTADB: return CRM_STATUS_DATA_LOSS
        case SQLITE_INTERRUPT: return CRM_STATUS_CANCELLED
        default: return CRM_STATUS_INTERNAL
        }
    }
}

struct SessionError: Error {
    var status: crm_status
    var message: String
}
