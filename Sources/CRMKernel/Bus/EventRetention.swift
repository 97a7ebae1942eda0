import CRMPluginABI
import CSQLite
import Foundation
import Logging

/// Compacts the outbox: drops events older than the retention period or
/// beyond the retained count, but never one that a running in-process
/// subscriber has not acknowledged. Runs at start and then periodically,
/// in small batches through the writer so write calls keep flowing.
final class EventRetention: @unchecked Sendable {
    struct Policy: Sendable {
        /// Keep events at least this long (0 = forever, unless `maxCount` applies).
        var maxAgeMicros: Int64
        /// Keep at most this many of the newest events (0 = no count limit).
        var maxCount: UInt64
    }

    private let storage: Storage
    private let policy: Policy
    private let subscriberPositions: () -> [UInt64]
    private let logger = Logger(label: "crm.kernel.bus")
    private var worker: PeriodicWorker?

    init(storage: Storage, policy: Policy, subscriberPositions: @escaping () -> [UInt64]) {
        self.storage = storage
        self.policy = policy
        self.subscriberPositions = subscriberPositions
    }

    /// Deletes what the policy allows now; returns how many events went.
    @discardableResult
    func compact(nowMicros: Int64 = Int64(Clock.unixMicros())) -> Int {
        guard policy.maxAgeMicros > 0 || policy.maxCount > 0 else { return 0 }
        // Nothing at or past the slowest subscriber's position may go.
        let ceiling = subscriberPositions().min() ?? UInt64.max
        let ageCutoff = policy.maxAgeMicros > 0 ? nowMicros - policy.maxAgeMicros : Int64.min
        let head = storage.events.head
        let countCutoff = policy.maxCount > 0 && head > policy.maxCount ? head - policy.maxCount : 0
        var total = 0
        while true {
            var deleted = 0
            let outcome = storage.writer.write(plugin: "kernel") { session in
                let db = session.connection.sqlite
                do {
                    _ = try db.authorizer.asKernel {
                        try db.query("""
                            DELETE FROM kernel_outbox WHERE sequence IN (
                                SELECT sequence FROM kernel_outbox
                                WHERE sequence <= ? AND (published_us < ? OR sequence <= ?)
                                ORDER BY sequence LIMIT 5000)
                            """, [.integer(Int64(clamping: ceiling)), .integer(ageCutoff), .integer(Int64(clamping: countCutoff))])
                    }
                    deleted = Int(sqlite3_changes64(db.handle))
                    return true
                } catch {
                    logger.warning("event compaction failed", metadata: ["error": "\(error)"])
                    return false
                }
            }
            guard case .committed = outcome else { break }
            total += deleted
            if deleted < 5000 { break }
        }
        if total > 0 { logger.info("events compacted", metadata: ["deleted": "\(total)"]) }
        return total
    }

    /// Compacts once now (before crmd serves, so what clients see is
    /// already compacted), then every `interval` on a thread of its own.
    func start(every interval: TimeInterval) {
        compact()
        worker = PeriodicWorker.start(name: "crm-retention", every: interval, runOnStop: false) { [self] in
            _ = compact()
        }
    }

    /// Waits for a compaction under way to finish, so none runs after storage closes.
    func stop() {
        worker?.stop()
    }
}
