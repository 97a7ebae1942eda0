import CSQLite
import Foundation
import Logging

/// Copies the WAL back into the database file on a thread of its own.
/// SQLite's automatic checkpoint runs inside whichever COMMIT crosses the
/// threshold and fsyncs there, stalling every write call of that group for
/// milliseconds; a PASSIVE checkpoint from another connection does the same
/// work while writers go on.
final class Checkpointer: @unchecked Sendable {
    private let connection: SQLiteConnection
    private let interval: TimeInterval
    /// About 64 MiB of 4 KiB pages.
    private let restartFrames: Int32 = 16_384
    private var worker: PeriodicWorker?
    private let logger = Logger(label: "crm.kernel.storage")

    init(path: String, interval: TimeInterval = 0.2) throws {
        connection = try SQLiteConnection(path: path)
        // A connection learns the database is in WAL mode only by reading
        // it; until then every checkpoint is a silent no-op.
        try connection.execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL")
        self.interval = interval
    }

    func start() {
        worker = PeriodicWorker.start(name: "crm-checkpoint", every: interval, runOnStop: true) { [self] in checkpoint() }
    }

    private func checkpoint() {
        var logFrames: Int32 = 0, copied: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(connection.handle, nil, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &copied)
        logger.trace("checkpoint", metadata: ["rc": "\(rc)", "wal_frames": "\(logFrames)", "copied": "\(copied)"])
        // Under constant writes a PASSIVE checkpoint never reaches the end
        // of the WAL (frames arrive while it copies), so SQLite never
        // rewinds it and the file grows. Past the limit, one RESTART
        // checkpoint waits for readers, holds writers back briefly and
        // makes the next write start again at the head of the file, which
        // keeps its size (a little over the threshold: about 71 MB seen
        // under EarnPoints). A TRUNCATE emptied it, and regrowing it cost
        // the writer a block allocation per page: about a third of the
        // writer's time with one call in flight.
        if rc == SQLITE_OK && logFrames > restartFrames {
            let restarted = sqlite3_wal_checkpoint_v2(connection.handle, nil, SQLITE_CHECKPOINT_RESTART, &logFrames, &copied)
            logger.debug("WAL restarted", metadata: ["rc": "\(restarted)", "frames": "\(logFrames)"])
        }
        if rc != SQLITE_OK && rc != SQLITE_BUSY {
            logger.warning("checkpoint failed", metadata: ["error": "\(connection.lastError().message)"])
        }
    }

    /// Stops after one last checkpoint.
    func stop() {
        worker?.stop()
    }
}
