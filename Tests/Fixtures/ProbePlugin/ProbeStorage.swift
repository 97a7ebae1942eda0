import CRMPluginKit
import Foundation
import ProbeContract
import Synchronization

/// The probe's storage and bus methods: a small table with a unique key, a
/// publisher, and a subscriber that records what it was delivered.
enum ProbeStorage {
    static let service = "/crm.testing.v1.Probe/"
    static let keyCounter = Atomic<UInt64>(0)
    /// Set by CRM_PROBE_FAIL_EVENTS: the subscriber fails this many deliveries first.
    static let failuresLeft = Atomic<Int>(Int(ProcessInfo.processInfo.environment["CRM_PROBE_FAIL_EVENTS"] ?? "") ?? 0)

    static func register(on def: PluginDefinition) {
        def.migration(1, "items", """
            CREATE TABLE probe_items (
                id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, value TEXT NOT NULL,
                size INTEGER NOT NULL, created_us INTEGER NOT NULL)
            """)
        def.migration(2, "seen", """
            CREATE TABLE probe_seen (sequence INTEGER PRIMARY KEY, topic TEXT NOT NULL, key TEXT NOT NULL)
            """)
        def.subscribes("probe.item.*")
        def.unary(service + "Put", put)
        def.unary(service + "Get", get)
        def.unary(service + "ExecSql", execSQL)
        def.unary(service + "QuerySql", querySQL)
        def.unary(service + "Seen", seen)
        def.unary(service + "Record", recordAudit)
        def.onEvent = record
    }

    static func put(_ ctx: CallContext, _ req: Crm_Testing_V1_PutRequest) throws -> Crm_Testing_V1_PutResponse {
        let failWith = StatusCode(rawValue: try Checked.convert(req.failWith, to: Int32.self, "fail_with"))
        let db = try ctx.database
        let key = req.key.isEmpty
            ? "k-\(getpid())-\(Clock.micros())-\(keyCounter.add(1, ordering: .relaxed).newValue)" : req.key
        let statement = try db.prepare("INSERT INTO probe_items (key, value, size, created_us) VALUES (?, ?, ?, ?)")
        try statement.bind([.text(key), .text(req.value), .integer(Int64(req.value.utf8.count)), .integer(Clock.micros())])
        _ = try statement.step()
        var response = Crm_Testing_V1_PutResponse()
        response.id = db.lastInsertID
        response.key = key
        if req.publish {
            var event = Crm_Testing_V1_PutRequest()
            event.key = key
            event.value = req.value
            let topic = req.topic.isEmpty ? "probe.item.created" : req.topic
            response.sequence = req.owner.isEmpty ? try ctx.publish(topic, event)
                : try ctx.publish(topic, event, about: EventSubject(entity: "probe.item", recordID: "\(response.id)", owner: req.owner))
        }
        if req.failWith != 0 {
            throw PluginError(failWith ?? .internal, "failing after the write, as asked")
        }
        return response
    }

    static func recordAudit(_ ctx: CallContext, _ req: Crm_Testing_V1_RecordRequest) throws -> Crm_Testing_V1_RecordResponse {
        let failWith = StatusCode(rawValue: try Checked.convert(req.failWith, to: Int32.self, "fail_with"))
        for entry in req.entries {
            try ctx.audit(AuditEntry(
                entity: entry.entity, recordID: entry.recordID, action: entry.action,
                owner: entry.owner.isEmpty ? nil : entry.owner,
                changes: entry.changes.map {
                    FieldChange($0.field, old: $0.hasOldValue ? $0.oldValue : nil, new: $0.hasNewValue ? $0.newValue : nil)
                }))
        }
        for name in req.redact {
            guard let colon = name.firstIndex(of: ":") else { throw PluginError.invalidArgument("redact \(name): not entity:record_id") }
            try ctx.redact(entity: String(name[..<colon]), recordID: String(name[name.index(after: colon)...]))
        }
        if req.failWith != 0 { throw PluginError(failWith ?? .internal, "failing after the audit, as asked") }
        return .init()
    }

    static func get(_ ctx: CallContext, _ req: Crm_Testing_V1_GetRequest) throws -> Crm_Testing_V1_GetResponse {
        let rows = try ctx.database.query("SELECT id, value FROM probe_items WHERE key = ?", [.text(req.key)])
        var response = Crm_Testing_V1_GetResponse()
        if let row = rows.first {
            response.found = true
            response.id = row[0].int ?? 0
            response.value = row[1].string ?? ""
        }
        return response
    }

    static func execSQL(_ ctx: CallContext, _ req: Crm_Testing_V1_SqlRequest) throws -> Crm_Testing_V1_SqlResponse {
        try runSQL(ctx, req)
    }

    static func querySQL(_ ctx: CallContext, _ req: Crm_Testing_V1_SqlRequest) throws -> Crm_Testing_V1_SqlResponse {
        try runSQL(ctx, req)
    }

    private static func runSQL(_ ctx: CallContext, _ req: Crm_Testing_V1_SqlRequest) throws -> Crm_Testing_V1_SqlResponse {
        let db = try ctx.database
        let statement = try db.prepare(req.sql)
        var response = Crm_Testing_V1_SqlResponse()
        while try statement.step() {
            switch statement.column(0) {
            case .text(let t): response.rows.append(t)
            case .integer(let v): response.rows.append(String(v))
            case .real(let v): response.rows.append(String(v))
            case .blob(let b): response.rows.append("blob:\(b.count)")
            case .null: response.rows.append("NULL")
            }
        }
        response.changes = db.changes
        return response
    }

    static func seen(_ ctx: CallContext, _ req: Crm_Testing_V1_SeenRequest) throws -> Crm_Testing_V1_SeenResponse {
        let limit = req.limit == 0 ? 1000 : min(Int64(req.limit), 10_000)
        let rows = try ctx.database.query("SELECT sequence, key FROM probe_seen WHERE sequence > ? ORDER BY rowid LIMIT ?",
                                          [.integer(try Checked.convert(req.afterSequence, to: Int64.self, "after_sequence")), .integer(limit)])
        var response = Crm_Testing_V1_SeenResponse()
        response.sequences = rows.map { UInt64($0[0].int ?? 0) }
        response.keys = rows.map { $0[1].string ?? "" }
        return response
    }

    /// The bus subscriber: stores each event it is given (exactly once, as
    /// the insert commits with the delivery position).
    static func record(_ ctx: CallContext, _ event: Event) throws {
        if failuresLeft.load(ordering: .relaxed) > 0 {
            failuresLeft.subtract(1, ordering: .relaxed)
            throw PluginError(.unavailable, "failing a delivery, as asked")
        }
        let item = try event.decode(Crm_Testing_V1_PutRequest.self)
        try ctx.database.execute("INSERT INTO probe_seen (sequence, topic, key) VALUES (?, ?, ?)",
                                 [.integer(Int64(event.sequence)), .text(event.topic), .text(item.key)])
    }
}

enum Clock {
    static func micros() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec / 1000)
    }
}
