import CSQLite
import Foundation
import Logging

/// Drops audit entries older than the retention period (0 days = keep
/// forever, the default: a trail is often kept for years by law). Runs at
/// start and then periodically, a few hundred entries per write
/// transaction so write calls keep flowing between batches.
final class AuditRetention: @unchecked Sendable {
    static let batch = 500

    private let storage: Storage
    private let maxAgeMicros: Int64
    private let logger = Logger(label: "crm.kernel.audit")
    private var worker: PeriodicWorker?

    init(storage: Storage, retentionDays: Int) {
        self.storage = storage
        // Bounded by the config check (at most 36,500 days), so no overflow.
        maxAgeMicros = Int64(max(0, retentionDays)) * 86_400_000_000
    }

    /// Deletes the entries (and their changes) the policy lets go now;
    /// returns how many entries went.
    @discardableResult
    func prune(nowMicros: Int64 = Int64(clamping: Clock.unixMicros())) -> Int {
        guard maxAgeMicros > 0 else { return 0 }
        let cutoff = nowMicros - maxAgeMicros
        var total = 0
        while true {
            var deleted = 0
            let outcome = storage.writer.write(plugin: "kernel") { session in
                let db = session.connection.sqlite
                do {
                    try db.authorizer.asKernel {
                        let oldest = "SELECT id FROM kernel_audit WHERE id < ? ORDER BY id LIMIT \(Self.batch)"
                        try db.query("DELETE FROM kernel_audit_changes WHERE audit_id IN (\(oldest))", [.integer(cutoff)])
                        try db.query("DELETE FROM kernel_audit WHERE id IN (\(oldest))", [.integer(cutoff)])
                        deleted = Int(sqlite3_changes64(db.handle))
                    }
                    return true
                } catch {
                    logger.warning("audit pruning failed", metadata: ["error": "\(error)"])
                    return false
                }
            }
            guard case .committed = outcome else { break }
            total += deleted
            if deleted < Self.batch { break }
        }
        if total > 0 { logger.info("audit entries pruned", metadata: ["deleted": "\(total)"]) }
        return total
    }

    /// Prunes once now (before crmd serves), then every `interval` on a thread of its own.
    func start(every interval: TimeInterval) {
        guard maxAgeMicros > 0 else { return }
        prune()
        worker = PeriodicWorker.start(name: "crm-audit-retention", every: interval, runOnStop: false) { [self] in
            _ = prune()
        }
    }

    /// Waits for a run under way, so none runs after storage closes.
    func stop() { worker?.stop() }
}
