import CRMPluginABI
import CSQLite
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

    init(database: KernelDatabase, readers readerCount: Int, limits: StorageLimits = StorageLimits()) throws {
        writerConnection = database.connection
        path = database.path
        let connection = StorageConnection(database.connection, limits: limits)
        writer = WriteCoordinator(connection: connection)
        readers = try ReaderPool(path: database.path, count: readerCount, limits: limits)
        // SQLite frees cached pages past this (every connection's caches fit
        // under it with the default readers), and refuses to allocate past
        // the hard limit: no statement can take crmd's memory with it.
        sqlite3_soft_heap_limit64(Self.softHeapLimit)
        sqlite3_hard_heap_limit64(Self.hardHeapLimit)
        events = EventLog(head: try EventLog.lastAssigned(database.connection))
        // Checkpoints move off the commit path (see Checkpointer).
        // The WAL file shrinks back to 64 MiB once a checkpoint has caught up.
        // The writer keeps 64 MiB of pages: with a million contacts the
        // indexes an import touches outgrow SQLite's 2 MiB default, and each
        // miss is a pread. secure_delete zeroes what a delete or an update
        // frees, so an erasure leaves no old bytes in the database's free
        // pages (inserts, the hot path, free nothing and pay nothing).
        try database.connection.execute("""
            PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -65536;
            PRAGMA secure_delete = ON
            """)
        checkpointer = try Checkpointer(path: database.path)
        checkpointer.start()
        writer.onCommit = { [unowned self] in
            guard publishedSinceCommit else { return }
            publishedSinceCommit = false
            if let head = try? EventLog.lastAssigned(writerConnection) { events.committed(through: head) }
        }
    }

    static let softHeapLimit: Int64 = 512 << 20
    static let hardHeapLimit: Int64 = 2 << 30

    /// Stops background work; called after the last write.
    func close() {
        writer.stop()
        checkpointer.stop()
    }

    /// Publishes in the writing session's transaction (writer thread only).
    func publish(in session: StorageSession, topic: String, typeName: String, payload: UnsafeRawBufferPointer,
                 subject: EventSubject? = nil) throws -> UInt64 {
        let sequence = try events.publish(in: session, topic: topic, typeName: typeName, payload: payload, subject: subject)
        publishedSinceCommit = true
        return sequence
    }
}
