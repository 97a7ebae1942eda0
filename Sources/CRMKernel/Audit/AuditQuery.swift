import CRMKernelContract
import CRMWire
import Foundation

/// Audit/List: entries newest first, paged by id (a keyset, so entries
/// written while a client pages never shift a page), read in one reader
/// snapshot with their changes.
struct AuditQuery {
    static let defaultPageSize = 50
    static let maxPageSize = 1000

    let request: Crm_Kernel_V1_ListAuditRequest
    /// Stop adding entries once the page holds about this many bytes.
    let byteBudget: Int

    func run(on storage: Storage) throws -> Crm_Kernel_V1_ListAuditResponse {
        let pageSize = try checkedPageSize()
        let before = try cursor()
        let session = storage.readers.checkout(plugin: "kernel")
        defer { storage.readers.checkin(session) }
        let db = session.connection.sqlite
        return try db.authorizer.asKernel {
            var conditions: [String] = [], values: [SQLValue] = []
            func filter(_ sql: String, _ value: SQLValue) { conditions.append(sql); values.append(value) }
            if !request.entity.isEmpty { filter("entity = ?", .text(request.entity)) }
            if !request.recordID.isEmpty { filter("record_id = ?", .text(request.recordID)) }
            if !request.user.isEmpty { filter("user = ?", .text(request.user)) }
            if !request.method.isEmpty { filter("method = ?", .text(request.method)) }
            // An id is its entry's time (AuditClock): the range is the primary key's.
            if request.sinceUs > 0 { filter("id >= ?", .integer(request.sinceUs)) }
            if request.untilUs > 0 { filter("id < ?", .integer(request.untilUs)) }
            if let before { filter("id < ?", .integer(before)) }
            let sql = "SELECT id, id, user, uid, proxy_uid, method, plugin, entity, record_id, action, owner, redacted, calls "
                + "FROM kernel_audit" + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
                + " ORDER BY id DESC LIMIT ?"
            let rows = try db.query(sql, values + [.integer(Int64(pageSize + 1))])
            var entries = rows.prefix(pageSize).map(Self.entry)
            var bytes = 0, kept = 0
            // Changes in chunks, so a page of large entries stops early
            // instead of loading what it will not send.
            while kept < entries.count && (kept == 0 || bytes < byteBudget) {
                let chunk = kept..<min(entries.count, kept + 50)
                try attachChanges(to: &entries[chunk], db)
                for index in chunk where kept == 0 || bytes < byteBudget {
                    bytes += Self.size(of: entries[index])
                    kept += 1
                }
            }
            let more = kept < entries.count || rows.count > pageSize
            return Crm_Kernel_V1_ListAuditResponse.with {
                $0.entries = Array(entries.prefix(kept))
                if more, let last = $0.entries.last {
                    $0.nextPageToken = PageToken.cursor(list: listKey, position: Int64(clamping: last.id))
                }
            }
        }
    }

    private func checkedPageSize() throws -> Int {
        guard request.pageSize <= Self.maxPageSize else {
            throw RPCError(.invalidArgument, "page_size is at most \(Self.maxPageSize), not \(request.pageSize)")
        }
        guard request.sinceUs >= 0, request.untilUs >= 0 else {
            throw RPCError(.invalidArgument, "since_us and until_us are UTC microseconds since the epoch, not negative")
        }
        if request.untilUs != 0 && request.untilUs <= request.sinceUs {
            throw RPCError(.invalidArgument, "until_us (\(request.untilUs)) must be after since_us (\(request.sinceUs)): the range is [since, until)")
        }
        return request.pageSize == 0 ? Self.defaultPageSize : Int(request.pageSize)
    }

    private func cursor() throws -> Int64? {
        guard !request.pageToken.isEmpty else { return nil }
        return try PageToken.position(of: request.pageToken, list: listKey)
    }

    /// The filters, each with its length, so a token fits only the filters it was issued for.
    private var listKey: String {
        let parts = [request.entity, request.recordID, request.user, request.method, "\(request.sinceUs)", "\(request.untilUs)"]
        return "audit|" + parts.map { "\($0.utf8.count):\($0)" }.joined(separator: "|")
    }

    private func attachChanges(to entries: inout ArraySlice<Crm_Kernel_V1_AuditEntry>, _ db: SQLiteConnection) throws {
        guard !entries.isEmpty else { return }
        let ids = entries.map { SQLValue.integer(Int64(clamping: $0.id)) }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        let rows = try db.query("SELECT audit_id, field, old_value, new_value FROM kernel_audit_changes "
                                + "WHERE audit_id IN (\(marks)) ORDER BY audit_id, field", ids)
        var byID: [Int64: [Crm_Kernel_V1_AuditFieldChange]] = [:]
        for row in rows {
            guard case .integer(let id) = row[0] else { continue }
            byID[id, default: []].append(.with { change in
                change.field = row[1].textValue ?? ""
                if let old = row[2].textValue { change.oldValue = old }
                if let new = row[3].textValue { change.newValue = new }
            })
        }
        for index in entries.indices { entries[index].changes = byID[Int64(clamping: entries[index].id)] ?? [] }
    }

    private static func entry(_ row: [SQLValue]) -> Crm_Kernel_V1_AuditEntry {
        func int(_ i: Int) -> Int64 { if case .integer(let v) = row[i] { return v } else { return 0 } }
        return .with {
            $0.id = UInt64(clamping: int(0))
            $0.atUs = int(1)
            $0.user = row[2].textValue ?? ""
            $0.uid = int(3)
            $0.proxyUid = int(4)
            $0.method = row[5].textValue ?? ""
            $0.plugin = row[6].textValue ?? ""
            $0.entity = row[7].textValue ?? ""
            $0.recordID = row[8].textValue ?? ""
            $0.action = row[9].textValue ?? ""
            $0.owner = row[10].textValue ?? ""
            $0.redacted = int(11) != 0
            $0.calls = UInt32(clamping: int(12))
        }
    }

    /// About what the entry takes on the wire.
    private static func size(of entry: Crm_Kernel_V1_AuditEntry) -> Int {
        let names = [entry.user, entry.method, entry.plugin, entry.entity, entry.recordID, entry.action, entry.owner]
        return 64 + names.reduce(0) { $0 + $1.utf8.count } + entry.changes.reduce(0) {
            $0 + 16 + $1.field.utf8.count + $1.oldValue.utf8.count + $1.newValue.utf8.count
        }
    }
}
