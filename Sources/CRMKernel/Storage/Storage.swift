import CRMPluginABI
import Foundation
import Logging

/// crmd's storage as plugins use it: the writer with group commit, the
/// reader pool, and the event log, all on `<data-dir>/crm.db`.
final class Storage: @unchecked Sendable {
    let writer: WriteCoordinator
    let readers: ReaderPool
    let events: EventLog
    let path: String
    /// Set by a publish on the writer thread; read at the group's commit.
    private var publishedSinceCommit = false
    private let writerConnection: SQLiteConnection
    private let checkpointer: Checkpointer

    init(database: KernelDatabase, readers readerCount: Int) throws {
        writerConnection = database.connection
        path = database.path
        let connection = StorageConnection(database.connection)
        writer = WriteCoordinator(connection: connection)
        readers = try ReaderPool(path: database.path, count: readerCount)
        events = EventLog(head: try EventLog.lastAssigned(database.connection))
        // Checkpoints move off the commit path (see Checkpointer).
        // The WAL file shrinks back to 64 MiB once a checkpoint has caught up.
        // The writer keeps 64 MiB of pages: with a million contacts the
        // indexes an import touches outgrow SQLite's 2 MiB default, and each
        // miss is a pread.
        try database.connection.execute("""
            PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -65536
            """)
        checkpointer = try Checkpointer(path: database.path)
        checkpointer.start()
        writer.onCommit = { [unowned self] in
            guard publishedSinceCommit else { return }
            publishedSinceCommit = false
            if let head = try? EventLog.lastAssigned(writerConnection) { events.committed(through: head) }
        }
    }

    /// Stops background work; called after the last write.
    func close() {
        writer.stop()
        checkpointer.stop()
    }

    /// Publishes in the writing session's transaction (writer thread only).
    func publish(in session: StorageSession, topic: String, typeName: String, payload: UnsafeRawBufferPointer) throws -> UInt64 {
        let sequence = try events.publish(in: session, topic: topic, typeName: typeName, payload: payload)
        publishedSinceCommit = true
        return sequence
    }
}
