import CRMPluginKit
import ServiceContract
import SwiftProtobuf

typealias SlaPolicy = Crm_Service_V1_SlaPolicy

/// SLA policies: conditions on a ticket, a calendar and three targets in
/// business minutes. Tried in (position, id) order; the first that matches
/// is the ticket's policy. Any change recomputes every unsolved ticket's
/// clocks, as the match itself may change.
enum SlaPolicies {
    static let maxMinutes: Int32 = 525_600   // a year of minutes
    static let updateMask = UpdateMask(fields: [
        "name": 2, "position": 3, "conditions": 4, "calendar_id": 5,
        "first_response_minutes": 6, "next_response_minutes": 7, "resolution_minutes": 8,
    ])

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "CreateSlaPolicy", create)
        def.unary(Service.service + "GetSlaPolicy", get)
        def.unary(Service.service + "UpdateSlaPolicy", update)
        def.unary(Service.service + "DeleteSlaPolicy", delete)
        def.unary(Service.service + "ListSlaPolicies", list)
    }

    static func validate(_ db: Database, _ p: inout SlaPolicy) throws {
        try Check.text(&p.name, "policy.name", max: 100)
        try Validate.required(p.name, "policy.name")
        try Checked.inRange(p.position, 0...Int32.max, "policy.position")
        _ = try SlaCalendars.require(db, p.calendarID, "policy.calendar_id")
        try Checked.inRange(p.firstResponseMinutes, 0...maxMinutes, "policy.first_response_minutes")
        try Checked.inRange(p.nextResponseMinutes, 0...maxMinutes, "policy.next_response_minutes")
        try Checked.inRange(p.resolutionMinutes, 0...maxMinutes, "policy.resolution_minutes")
        guard p.firstResponseMinutes > 0 || p.nextResponseMinutes > 0 || p.resolutionMinutes > 0 else {
            throw PluginError.invalidArgument("policy: at least one of first_response_minutes, next_response_minutes and resolution_minutes is needed")
        }
        var c = p.conditions
        let field = "policy.conditions"
        for (name, count) in [("priorities", c.priorities.count), ("types", c.types.count), ("teams", c.teams.count),
                              ("organization_ids", c.organizationIds.count), ("tags", c.tags.count)] where count > 50 {
            throw PluginError.invalidArgument("\(field).\(name) has more than 50 values")
        }
        for (i, v) in c.priorities.enumerated() { try Check.known(v.rawValue, 1...4, "\(field).priorities[\(i)]") }
        for (i, v) in c.types.enumerated() { try Check.known(v.rawValue, 1...4, "\(field).types[\(i)]") }
        for (i, v) in c.teams.enumerated() {
            try Validate.required(v, "\(field).teams[\(i)]")
            try Check.name(v, "\(field).teams[\(i)]")
        }
        for (i, v) in c.organizationIds.enumerated() { try Validate.positiveID(v, "\(field).organization_ids[\(i)]") }
        c.tags = try c.tags.enumerated().map { i, tag in
            let t = tag.trimmedSpaces.lowercased()
            let bytes = Array(t.utf8)
            guard (1...50).contains(bytes.count), bytes.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }) else {
                throw PluginError.invalidArgument("\(field).tags[\(i)] \"\(tag.prefix(60))\" is not a tag (1-50 of a-z 0-9 - _)")
            }
            return t
        }
        p.conditions = c
    }

    /// Whether a ticket meets every condition of a policy.
    static func matches(_ p: SlaPolicy, _ t: Ticket) -> Bool {
        let c = p.conditions
        if !c.priorities.isEmpty && !c.priorities.contains(t.priority) { return false }
        if !c.types.isEmpty && !c.types.contains(t.type) { return false }
        if !c.teams.isEmpty && !c.teams.contains(t.team) { return false }
        if !c.organizationIds.isEmpty && !c.organizationIds.contains(t.organizationID) { return false }
        if !c.tags.isEmpty && !c.tags.contains(where: t.tags.contains) { return false }
        return true
    }

    static let columns = "id, position, calendar_id, definition, version, created_us, updated_us"

    static func decode(_ row: [SQLValue]) -> SlaPolicy {
        var p = row[3].bytes.flatMap { try? SlaPolicy(serializedBytes: $0) } ?? SlaPolicy()
        p.id = row.int(0)
        p.position = Int32(truncatingIfNeeded: row.int(1))
        p.calendarID = row.int(2)
        p.version = row.int(4)
        p.createdUnixUs = row.int(5)
        p.updatedUnixUs = row.int(6)
        return p
    }

    static func encode(_ p: SlaPolicy) -> [UInt8] {
        var only = p
        only.id = 0; only.version = 0; only.createdUnixUs = 0; only.updatedUnixUs = 0
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return (try? only.serializedBytes(options: options)) ?? []
    }

    /// Every policy in the order they are tried.
    static func all(_ db: Database) throws -> [SlaPolicy] {
        try db.query("SELECT \(columns) FROM service_sla_policies ORDER BY position, id").map(decode)
    }

    static func require(_ db: Database, _ id: Int64, _ field: String) throws -> SlaPolicy {
        try Validate.positiveID(id, field)
        guard let row = try db.query("SELECT \(columns) FROM service_sla_policies WHERE id = ?", [.integer(id)]).first else {
            throw PluginError.notFound("\(field): SLA policy \(id) does not exist")
        }
        return decode(row)
    }

    private static func write(_ db: Database, _ p: SlaPolicy) throws {
        try db.execute("""
            INSERT INTO service_sla_policies (id, position, calendar_id, definition, version, created_us, updated_us)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET position = excluded.position, calendar_id = excluded.calendar_id,
                definition = excluded.definition, version = excluded.version, updated_us = excluded.updated_us
            """, [.integer(p.id), .integer(Int64(p.position)), .integer(p.calendarID), .blob(encode(p)), .integer(p.version),
                  .integer(p.createdUnixUs), .integer(p.updatedUnixUs)])
    }

    static func create(_ ctx: CallContext, _ req: Crm_Service_V1_CreateSlaPolicyRequest) throws -> SlaPolicy {
        try TicketScope.checkConfigWritable(ctx, permission: SlaCalendars.writePermission, "an SLA policy")
        let db = try ctx.database
        let (previous, claim) = try Service.idempotency.check(db, method: "CreateSlaPolicy", req, key: \.idempotencyKey)
        if let id = previous { return try require(db, id, "idempotency_key") }
        var p = req.policy
        try validate(db, &p)
        let now = UTCClock.nowMicros()
        p.id = (try db.query("SELECT COALESCE(MAX(id), 0) + 1 FROM service_sla_policies").first?.int(0)) ?? 1
        p.version = 1
        p.createdUnixUs = now
        p.updatedUnixUs = now
        try write(db, p)
        try audit(ctx, "create", old: nil, new: p)
        try Service.idempotency.record(db, claim, resultID: p.id)
        try SlaEngine.recomputeUnsolved(ctx, db, now: now)
        return p
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetSlaPolicyRequest) throws -> SlaPolicy {
        try require(try ctx.database, req.id, "id")
    }

    static func update(_ ctx: CallContext, _ req: Crm_Service_V1_UpdateSlaPolicyRequest) throws -> SlaPolicy {
        try TicketScope.checkConfigWritable(ctx, permission: SlaCalendars.writePermission, "an SLA policy")
        let fields = try updateMask.resolve(req.updateMask, req.policy)
        let db = try ctx.database
        let before = try require(db, req.policy.id, "policy.id")
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "SLA policy \(before.id)")
        var p = before
        let s = req.policy
        if fields.contains("name") { p.name = s.name }
        if fields.contains("position") { p.position = s.position }
        if fields.contains("conditions") { p.conditions = s.conditions }
        if fields.contains("calendar_id") { p.calendarID = s.calendarID }
        if fields.contains("first_response_minutes") { p.firstResponseMinutes = s.firstResponseMinutes }
        if fields.contains("next_response_minutes") { p.nextResponseMinutes = s.nextResponseMinutes }
        if fields.contains("resolution_minutes") { p.resolutionMinutes = s.resolutionMinutes }
        try validate(db, &p)
        guard p != before else { return p }
        p.version += 1
        p.updatedUnixUs = UTCClock.nowMicros()
        try write(db, p)
        try audit(ctx, "update", old: before, new: p)
        try SlaEngine.recomputeUnsolved(ctx, db, now: p.updatedUnixUs)
        return p
    }

    static func delete(_ ctx: CallContext, _ req: Crm_Service_V1_DeleteSlaPolicyRequest) throws -> Crm_Service_V1_DeleteSlaPolicyResponse {
        try TicketScope.checkConfigWritable(ctx, permission: SlaCalendars.writePermission, "an SLA policy")
        let db = try ctx.database
        let p = try require(db, req.id, "id")
        try Validate.expectedVersion(req.expectedVersion, p.version, noun: "SLA policy \(p.id)")
        try db.execute("DELETE FROM service_sla_policies WHERE id = ?", [.integer(p.id)])
        try audit(ctx, "delete", old: p, new: nil)
        try SlaEngine.recomputeUnsolved(ctx, db, now: UTCClock.nowMicros())
        return .init()
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListSlaPoliciesRequest) throws -> Crm_Service_V1_ListSlaPoliciesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        var sql = "SELECT \(columns) FROM service_sla_policies ORDER BY position, id LIMIT ?"
        var parameters: [SQLValue] = []
        if let after = paging.after {
            let (position, id) = (try tokenInt(after[0]), try tokenInt(after[1]))
            sql = """
                SELECT \(columns) FROM service_sla_policies WHERE position = ? AND id > ?
                UNION ALL SELECT \(columns) FROM service_sla_policies WHERE position > ? ORDER BY 2, 1 LIMIT ?
                """
            parameters = [position, id, position]
        }
        let page = try fetchPage(try ctx.database, sql, parameters, paging, decode: decode, key: { [$0[1], $0[0]] })
        var response = Crm_Service_V1_ListSlaPoliciesResponse()
        response.policies = page.rows
        response.nextPageToken = page.nextToken
        return response
    }

    static func audit(_ ctx: CallContext, _ action: String, old: SlaPolicy?, new: SlaPolicy?) throws {
        func fields(_ p: SlaPolicy) -> [String: String] {
            let c = p.conditions
            var f: [String: String] = [:]
            f["name"] = p.name
            f["position"] = String(p.position)
            f["calendar_id"] = String(p.calendarID)
            f["first_response_minutes"] = String(p.firstResponseMinutes)
            f["next_response_minutes"] = String(p.nextResponseMinutes)
            f["resolution_minutes"] = String(p.resolutionMinutes)
            let priorities: [String] = c.priorities.map { "\($0)".uppercased() }
            let types: [String] = c.types.map { "\($0)".uppercased() }
            let organizations: [String] = c.organizationIds.map { String($0) }
            f["conditions.priorities"] = priorities.joined(separator: ", ")
            f["conditions.types"] = types.joined(separator: ", ")
            f["conditions.teams"] = c.teams.joined(separator: ", ")
            f["conditions.organization_ids"] = organizations.joined(separator: ", ")
            f["conditions.tags"] = c.tags.joined(separator: ", ")
            return f.filter { !$0.value.isEmpty && $0.value != "0" }
        }
        let id = new?.id ?? old?.id ?? 0
        try ctx.audit(AuditEntry(entity: "service.sla_policy", recordID: String(id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: new.map(fields) ?? [:])))
    }
}
