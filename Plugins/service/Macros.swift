import CRMPluginKit
import ServiceContract
import SwiftProtobuf

typealias Macro = Crm_Service_V1_Macro

/// Saved macros: shared configuration (service.macro.write at scope all).
/// Every check that does not depend on a ticket happens here, when the
/// macro is saved: an unknown merge field is refused then, not when an
/// agent applies it. Deleting keeps the row (deleted_us) for the audit trail.
enum Macros {
    static let writePermission = "service.macro.write"
    static let updateMask = UpdateMask(fields: ["name": 2, "description": 3, "actions": 4])

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "CreateMacro", create)
        def.unary(Service.service + "GetMacro", get)
        def.unary(Service.service + "UpdateMacro", update)
        def.unary(Service.service + "DeleteMacro", delete)
        def.unary(Service.service + "ListMacros", list)
    }

    static func customFieldKeys(_ db: Database) throws -> Set<String> {
        Set(try db.query("SELECT key FROM service_custom_fields").map { $0.text(0) })
    }

    /// Checks a macro and fills in its merge_fields; returns its template.
    @discardableResult
    static func validate(_ db: Database, _ m: inout Macro) throws -> MacroTemplate? {
        try Check.text(&m.name, "macro.name", max: 100)
        try Validate.required(m.name, "macro.name")
        try Check.text(&m.description_p, "macro.description", max: 1000)
        var a = m.actions
        let f = "macro.actions."
        try Check.known(a.status.rawValue, 1...6, "\(f)status", optional: true)
        if a.status == .new { throw PluginError.invalidArgument("\(f)status: nothing goes back to NEW") }
        try Check.known(a.priority.rawValue, 1...4, "\(f)priority", optional: true)
        a.addTags = try TicketValidation.tags(a.addTags, "\(f)add_tags")
        a.removeTags = try TicketValidation.tags(a.removeTags, "\(f)remove_tags")
        if let both = a.addTags.first(where: a.removeTags.contains) {
            throw PluginError.invalidArgument("\(f)remove_tags: \"\(both)\" is also in add_tags")
        }
        try Check.name(a.team, "\(f)team")
        try Check.name(a.assignee, "\(f)assignee")
        if !a.assignee.isEmpty && (a.unassign || a.assignToCaller) || (a.unassign && a.assignToCaller) {
            throw PluginError.invalidArgument("\(f)assignee, unassign and assign_to_caller: only one of them")
        }
        if !a.team.isEmpty || !a.assignee.isEmpty { try Teams.checkPlacement(db, assignee: a.assignee, team: a.team, field: f) }
        try Check.known(a.messageKind.rawValue, 1...2, "\(f)message_kind", optional: true)
        var template: MacroTemplate?
        if a.messageKind == .unspecified {
            guard a.messageTemplate.isEmpty else {
                throw PluginError.invalidArgument("\(f)message_template is given without message_kind (PUBLIC or INTERNAL)")
            }
            m.mergeFields = []
        } else {
            guard !a.messageTemplate.trimmedSpacesAndNewlines.isEmpty else {
                throw PluginError.invalidArgument("\(f)message_template is required with message_kind")
            }
            try Validate.maxLength(a.messageTemplate, "\(f)message_template", TicketValidation.maxBody)
            let compiled = try MacroTemplate.compile(a.messageTemplate, field: "\(f)message_template", customFields: try customFieldKeys(db))
            m.mergeFields = compiled.fields
            template = compiled
        }
        let does = a.status != .unspecified || a.priority != .unspecified || !a.addTags.isEmpty || !a.removeTags.isEmpty
            || !a.team.isEmpty || !a.assignee.isEmpty || a.unassign || a.assignToCaller || a.messageKind != .unspecified
        guard does else { throw PluginError.invalidArgument("macro.actions: a macro needs at least one action") }
        m.actions = a
        return template
    }

    static let columns = "id, definition, version, created_us, updated_us"

    static func decode(_ r: [SQLValue]) -> Macro {
        var m = r[1].bytes.flatMap { try? Macro(serializedBytes: $0) } ?? Macro()
        m.id = r.int(0)
        m.version = r.int(2)
        m.createdUnixUs = r.int(3)
        m.updatedUnixUs = r.int(4)
        return m
    }

    private static func encode(_ m: Macro) throws -> [UInt8] {
        var only = m
        only.id = 0; only.version = 0; only.createdUnixUs = 0; only.updatedUnixUs = 0
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return try only.serializedBytes(options: options)
    }

    /// A live macro, or INVALID_ARGUMENT / NOT_FOUND naming `field`.
    static func require(_ db: Database, _ id: Int64, _ field: String) throws -> Macro {
        try Validate.positiveID(id, field)
        guard let r = try db.query("SELECT \(columns) FROM service_macros WHERE id = ? AND deleted_us = 0", [.integer(id)]).first else {
            throw PluginError.notFound("\(field): macro \(id) does not exist")
        }
        return decode(r)
    }

    private static func write(_ db: Database, _ m: Macro) throws {
        try db.execute("UPDATE service_macros SET name = ?, definition = ?, version = ?, updated_us = ? WHERE id = ?",
                       [.text(m.name), .blob(try encode(m)), .integer(m.version), .integer(m.updatedUnixUs), .integer(m.id)])
    }

    private static func audit(_ ctx: CallContext, _ action: String, old: Macro?, new: Macro?) throws {
        func fields(_ m: Macro?) -> [String: String] {
            guard let m else { return [:] }
            var out = ["name": m.name]
            if !m.description_p.isEmpty { out["description"] = m.description_p }
            var shown = m.actions
            shown.messageTemplate = ""
            let text = (try? shown.jsonString()) ?? ""
            if text != "{}" { out["actions"] = text }
            if !m.actions.messageTemplate.isEmpty { out["message_template"] = m.actions.messageTemplate }
            return out
        }
        try ctx.audit(AuditEntry(entity: "service.macro", recordID: String((new ?? old)?.id ?? 0), action: action,
                                 changes: FieldChange.between(old: fields(old), new: fields(new))))
    }

    static func create(_ ctx: CallContext, _ req: Crm_Service_V1_CreateMacroRequest) throws -> Macro {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "a macro")
        let db = try ctx.database
        let (previous, claim) = try Service.idempotency.check(db, method: "CreateMacro", req, key: \.idempotencyKey)
        if let id = previous { return try require(db, id, "idempotency_key") }
        var m = req.macro
        m.id = 0
        try validate(db, &m)
        let now = UTCClock.nowMicros()
        m.version = 1
        m.createdUnixUs = now
        m.updatedUnixUs = now
        m.id = try db.execute("""
            INSERT INTO service_macros (name, definition, version, created_us, updated_us, deleted_us) VALUES (?, ?, 1, ?, ?, 0)
            """, [.text(m.name), .blob(try encode(m)), .integer(now), .integer(now)]).lastInsertID
        try audit(ctx, "create", old: nil, new: m)
        try Service.idempotency.record(db, claim, resultID: m.id)
        return m
    }

    static func get(_ ctx: CallContext, _ req: Crm_Service_V1_GetMacroRequest) throws -> Macro {
        try require(try ctx.database, req.id, "id")
    }

    static func update(_ ctx: CallContext, _ req: Crm_Service_V1_UpdateMacroRequest) throws -> Macro {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "a macro")
        let fields = try updateMask.resolve(req.updateMask, req.macro)
        let db = try ctx.database
        let before = try require(db, req.macro.id, "macro.id")
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "macro \(before.id)")
        var m = before
        if fields.contains("name") { m.name = req.macro.name }
        if fields.contains("description") { m.description_p = req.macro.description_p }
        if fields.contains("actions") { m.actions = req.macro.actions }
        try validate(db, &m)
        guard m != before else { return m }
        m.version += 1
        m.updatedUnixUs = UTCClock.nowMicros()
        try write(db, m)
        try audit(ctx, "update", old: before, new: m)
        return m
    }

    static func delete(_ ctx: CallContext, _ req: Crm_Service_V1_DeleteMacroRequest) throws -> Crm_Service_V1_DeleteMacroResponse {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "a macro")
        let db = try ctx.database
        let m = try require(db, req.id, "id")
        try Validate.expectedVersion(req.expectedVersion, m.version, noun: "macro \(m.id)")
        try db.execute("UPDATE service_macros SET deleted_us = ? WHERE id = ?", [.integer(UTCClock.nowMicros()), .integer(m.id)])
        try audit(ctx, "delete", old: m, new: nil)
        return .init()
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListMacrosRequest) throws -> Crm_Service_V1_ListMacrosResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        var condition = "deleted_us = 0"
        var parameters: [SQLValue] = []
        if let after = paging.after {
            guard case .text(let name) = after[0] else { throw PluginError.invalidArgument("page_token is not a token this list returned") }
            // After the last row in (name, id) order; macros are few, so the OR is cheap.
            condition += " AND (name > ? OR (name = ? AND id > ?))"
            parameters = [.text(name), .text(name), try tokenInt(after[1])]
        }
        let page = try fetchPage(try ctx.database, """
            SELECT \(columns), name FROM service_macros WHERE \(condition) ORDER BY name, id LIMIT ?
            """, parameters, paging, decode: decode, key: { [$0[5], $0[0]] })
        var response = Crm_Service_V1_ListMacrosResponse()
        response.macros = page.rows
        response.nextPageToken = page.nextToken
        return response
    }
}
