import CRMPluginKit
import ServiceContract

typealias FieldDefinition = Crm_Service_V1_CustomFieldDefinition

/// Ticket custom fields: definitions (key, label, type, options for
/// SELECT, required) are shared configuration; a ticket's values are text
/// checked against the definition's type when written, so every stored
/// value parses as its type.
enum CustomFields {
    static let writePermission = "service.custom_field.write"

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "SetCustomField", set)
        def.unary(Service.service + "ListCustomFields", list)
    }

    static func set(_ ctx: CallContext, _ req: Crm_Service_V1_SetCustomFieldRequest) throws -> FieldDefinition {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "a custom-field definition")
        var field = req.field
        try checkKey(field.key, "field.key")
        try Check.text(&field.label, "field.label", max: 100)
        try Validate.required(field.label, "field.label")
        try Check.known(field.type.rawValue, 1...5, "field.type")
        if field.type == .select {
            guard !field.options.isEmpty else { throw PluginError.invalidArgument("field.options: a SELECT field needs options") }
            guard field.options.count <= 100 else { throw PluginError.invalidArgument("field.options has more than 100 entries") }
            var seen = Set<String>()
            for i in field.options.indices {
                try Check.text(&field.options[i], "field.options[\(i)]", max: 100)
                try Validate.required(field.options[i], "field.options[\(i)]")
                guard seen.insert(field.options[i]).inserted else {
                    throw PluginError.invalidArgument("field.options[\(i)] repeats \"\(field.options[i])\"")
                }
            }
        } else if !field.options.isEmpty {
            throw PluginError.invalidArgument("field.options: only a SELECT field has options")
        }
        let db = try ctx.database
        let old = try load(db, field.key)
        if let old {
            if old.type != field.type, try used(db, key: field.key, value: nil) {
                throw PluginError.failedPrecondition("field.type: tickets hold values of \(field.key) as \(old.type); "
                    + "its type cannot change")
            }
            for option in old.options where !field.options.contains(option) && old.type == .select {
                if try used(db, key: field.key, value: option) {
                    throw PluginError.failedPrecondition("field.options: tickets use \"\(option)\" of \(field.key); it cannot be removed")
                }
            }
        }
        field.updatedUnixUs = UTCClock.nowMicros()
        if var unchanged = old {
            unchanged.updatedUnixUs = field.updatedUnixUs
            if unchanged == field { return old! }
        }
        try db.execute("""
            INSERT INTO service_custom_fields (key, label, type, options, required, updated_us) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET label = excluded.label, type = excluded.type, options = excluded.options,
                required = excluded.required, updated_us = excluded.updated_us
            """, [.text(field.key), .text(field.label), .integer(Int64(field.type.rawValue)),
                  .text(field.options.joined(separator: "\n")), .integer(field.required ? 1 : 0), .integer(field.updatedUnixUs)])
        try ctx.audit(AuditEntry(entity: "service.custom_field", recordID: field.key, action: "set",
                                 changes: FieldChange.between(old: old.map(auditFields) ?? [:], new: auditFields(field))))
        return field
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListCustomFieldsRequest) throws -> Crm_Service_V1_ListCustomFieldsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if let after = paging.after { filter.add("key > ?", after[0]) }
        let page = try fetchPage(try ctx.database, """
            SELECT key, label, type, options, required, updated_us FROM service_custom_fields \(filter.clause) ORDER BY key LIMIT ?
            """, filter.parameters, paging, decode: decode, key: { [$0[0]] })
        var response = Crm_Service_V1_ListCustomFieldsResponse()
        response.fields = page.rows
        response.nextPageToken = page.nextToken
        return response
    }

    static func decode(_ row: [SQLValue]) -> FieldDefinition {
        var field = FieldDefinition()
        field.key = row.text(0)
        field.label = row.text(1)
        field.type = Crm_Service_V1_CustomFieldType(rawValue: Int(truncatingIfNeeded: row.int(2))) ?? .unspecified
        let options = row.text(3)
        field.options = options.isEmpty ? [] : options.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        field.required = row.int(4) != 0
        field.updatedUnixUs = row.int(5)
        return field
    }

    static func load(_ db: Database, _ key: String) throws -> FieldDefinition? {
        try db.query("SELECT key, label, type, options, required, updated_us FROM service_custom_fields WHERE key = ?",
                     [.text(key)]).first.map(decode)
    }

    static func checkKey(_ key: String, _ field: String) throws {
        let bytes = Array(key.utf8)
        guard (1...40).contains(bytes.count), let first = bytes.first, first >= 97 && first <= 122,
              bytes.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }) else {
            throw PluginError.invalidArgument("\(field) \"\(key.prefix(60))\" is not 1-40 of a-z 0-9 _ starting with a letter")
        }
    }

    /// Whether any ticket holds a value for `key` (or this value).
    private static func used(_ db: Database, key: String, value: String?) throws -> Bool {
        if let value {
            return try !db.query("SELECT 1 FROM service_ticket_fields WHERE key = ? AND value = ? LIMIT 1",
                                 [.text(key), .text(value)]).isEmpty
        }
        return try !db.query("SELECT 1 FROM service_ticket_fields WHERE key = ? LIMIT 1", [.text(key)]).isEmpty
    }

    /// Checks and normalizes a ticket's values against the definitions:
    /// each key defined, each value of its type, every required field set.
    static func validate(_ db: Database, _ values: inout [String: String], _ field: String) throws {
        guard values.count <= 100 else { throw PluginError.invalidArgument("\(field) has more than 100 entries") }
        var normalized: [String: String] = [:]
        for key in values.keys.sorted() {
            var value = values[key] ?? ""
            let name = "\(field)[\(key.prefix(40))]"
            guard let definition = try load(db, key) else {
                throw PluginError.invalidArgument("\(name): no custom field \"\(key.prefix(40))\" is defined (SetCustomField)")
            }
            value = value.trimmedSpacesAndNewlines
            if value.isEmpty { continue }  // an empty value clears the field
            switch definition.type {
            case .text:
                try Validate.maxLength(value, name, 1000)
            case .number:
                guard value.utf8.count <= 20, let number = Int64(value) else {
                    throw PluginError.invalidArgument("\(name) \"\(value.prefix(40))\" is not a whole number")
                }
                value = String(number)
            case .boolean:
                guard value == "true" || value == "false" else {
                    throw PluginError.invalidArgument("\(name) must be \"true\" or \"false\"")
                }
            case .date:
                try Validate.date(value, name)
            case .select:
                guard definition.options.contains(value) else {
                    throw PluginError.invalidArgument("\(name) \"\(value.prefix(100))\" is not one of its options")
                }
            default:
                throw PluginError.invalidArgument("\(name) has no usable type")
            }
            normalized[key] = value
        }
        for row in try db.query("SELECT key FROM service_custom_fields WHERE required = 1 ORDER BY key") {
            let key = row.text(0)
            if normalized[key] == nil { throw PluginError.invalidArgument("\(field)[\(key)] is required") }
        }
        values = normalized
    }

    private static func auditFields(_ f: FieldDefinition) -> [String: String] {
        var out = ["label": f.label, "type": "\(f.type)"]
        if !f.options.isEmpty { out["options"] = f.options.joined(separator: ", ") }
        if f.required { out["required"] = "true" }
        return out
    }
}
