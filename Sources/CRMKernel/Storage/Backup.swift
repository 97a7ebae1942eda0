import CRMKernelContract
import CRMWire
import CSQLite
import Foundation

/// `crm.kernel.v1.Storage/Backup`: a consistent copy of the live database
/// made with SQLite's online backup API from a read connection of its own.
/// In WAL mode the copy reads one snapshot while writers go on; it is
/// written to a temporary name and renamed, so a failed backup leaves no
/// half-written file under the asked-for name.
enum Backup {
    static func run(storage: Storage, request: Crm_Kernel_V1_BackupRequest, caller: PeerCredentials?) throws -> Crm_Kernel_V1_BackupResponse {
        let uid = geteuid()
        guard let caller, caller.uid == uid || caller.uid == 0 else {
            throw RPCError(.permissionDenied, "only crmd's own user (uid \(uid)) or root may take a backup")
        }
        let path = request.path
        guard path.hasPrefix("/") else { throw RPCError(.invalidArgument, "path must be absolute") }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw RPCError(.alreadyExists, "\(path) exists; a backup never overwrites a file")
        }
        let started = Clock.unixMicros()
        let temporary = path + ".partial-\(getpid())"
        defer { unlink(temporary) }
        let source = try SQLiteConnection(path: storage.path, readOnly: true)
        try source.execute("PRAGMA busy_timeout = 5000")
        let target: SQLiteConnection
        do { target = try SQLiteConnection(path: temporary) } catch {
            throw RPCError(.failedPrecondition, "cannot create \(path): \(error)")
        }
        guard let backup = sqlite3_backup_init(target.handle, "main", source.handle, "main") else {
            throw RPCError(.internal, "cannot start the backup: \(target.lastError().message)")
        }
        // All pages in one step: one read snapshot, so concurrent commits
        // neither restart the copy nor end up half in it.
        var rc = sqlite3_backup_step(backup, -1)
        while rc == SQLITE_BUSY || rc == SQLITE_LOCKED {
            usleep(10_000)
            rc = sqlite3_backup_step(backup, -1)
        }
        let finished = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE, finished == SQLITE_OK else {
            throw RPCError(.internal, "backup failed: \(target.lastError().message)")
        }
        // The copy keeps WAL mode; fold it into the main file so one file is the backup.
        try target.execute("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE")
        let lastEvent = try EventLog.lastAssigned(target)
        guard rename(temporary, path) == 0 else {
            throw RPCError(.failedPrecondition, "cannot move the backup to \(path): \(String(cString: strerror(errno)))")
        }
        var response = Crm_Kernel_V1_BackupResponse()
        response.bytes = UInt64((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)??.uint64Value ?? 0)
        response.lastEventSequence = lastEvent
        response.durationUs = Int64(Clock.unixMicros() - started)
        return response
    }
}
