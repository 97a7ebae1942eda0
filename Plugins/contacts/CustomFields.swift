import CRMPluginKit
import ContactsContract
import Foundation

typealias FieldDefinition = Crm_Contacts_V1_CustomFieldDefinition

/// Custom fields defined at run time per entity; values are checked against
/// their definition on every write of a person or organization.
enum CustomFields {
    static func register(on def: PluginDefinition) {
        def.unary(Contacts.service + "DefineCustomField", define)
        def.unary(Contacts.service + "ListCustomFields", list)
    }

    static func define(_ ctx: CallContext, _ req: Crm_Contacts_V1_DefineCustomFieldRequest) throws -> FieldDefinition {
        var definition = req.definition
        let entity = try entityKind(definition.entity, field: "definition.entity")
        let key = definition.key
        guard let first = key.first, first.isASCII && first.isLowercase, key.count <= 40,
              key.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) else {
            throw PluginError.invalidArgument("definition.key must match [a-z][a-z0-9_]{0,39}, got \"\(key)\"")
        }
        if definition.label.isEmpty { definition.label = key }
        try Validate.maxLength(definition.label, "definition.label", 100)
        switch definition.type {
        case .text, .number, .date: definition.choices = []
        case .choice:
            definition.choices = definition.choices.map { $0.trimmedSpaces }.filter { !$0.isEmpty }
            guard !definition.choices.isEmpty else {
                throw PluginError.invalidArgument("definition.choices is required for a choice field")
            }
            guard Set(definition.choices).count == definition.choices.count, definition.choices.count <= 200 else {
                throw PluginError.invalidArgument("definition.choices must be at most 200 distinct values")
            }
        default: throw PluginError.invalidArgument("definition.type is required")
        }
        let db = try ctx.database
        let existing = try load(db, entity)[key]
        if let existing, existing.type != definition.type {
            throw PluginError.failedPrecondition("definition.type: field \"\(key)\" already exists as \(existing.type); its type cannot change")
        }
        let data: [UInt8] = try definition.serializedBytes()
        try db.execute("""
            INSERT INTO contacts_field_definitions (entity, key, data) VALUES (?, ?, ?)
            ON CONFLICT (entity, key) DO UPDATE SET data = excluded.data
            """, [.integer(entity.rawValue), .text(key), .blob(data)])
        if existing != definition { try AuditTrail.customField(ctx, entity: entity, before: existing, after: definition) }
        return definition
    }

    static func list(_ ctx: CallContext, _ req: Crm_Contacts_V1_ListCustomFieldsRequest) throws -> Crm_Contacts_V1_ListCustomFieldsResponse {
        let entity = try entityKind(req.entity, field: "entity")
        var response = Crm_Contacts_V1_ListCustomFieldsResponse()
        response.definitions = try load(try ctx.database, entity).values.sorted { $0.key < $1.key }
        return response
    }

    static func entityKind(_ entity: Crm_Contacts_V1_Entity, field: String) throws -> EntityKind {
        switch entity {
        case .person: return .person
        case .organization: return .organization
        default: throw PluginError.invalidArgument("\(field) must be ENTITY_PERSON or ENTITY_ORGANIZATION")
        }
    }

    static func load(_ db: Database, _ entity: EntityKind) throws -> [String: FieldDefinition] {
        var out: [String: FieldDefinition] = [:]
        for row in try db.query("SELECT data FROM contacts_field_definitions WHERE entity = ?", [.integer(entity.rawValue)]) {
            let definition = try FieldDefinition(serializedBytes: row[0].bytes ?? [])
            out[definition.key] = definition
        }
        return out
    }

    /// Every value must have a definition and match its type; required
    /// fields must be present.
    static func validate(_ definitions: [String: FieldDefinition], _ values: [String: Crm_Contacts_V1_FieldValue],
                         field: String) throws {
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            guard let definition = definitions[key] else {
                throw PluginError.invalidArgument("\(field).\(key) is not a defined custom field")
            }
            try check(value, against: definition, field: "\(field).\(key)")
        }
        for definition in definitions.values where definition.required && values[definition.key] == nil {
            throw PluginError.invalidArgument("\(field).\(definition.key) is required")
        }
    }

    /// A custom field value from CSV text, typed by its definition.
    static func value(_ definitions: [String: FieldDefinition], key: String, text: String) throws -> Crm_Contacts_V1_FieldValue {
        guard let definition = definitions[key] else {
            throw PluginError.invalidArgument("custom.\(key) is not a defined custom field")
        }
        var value = Crm_Contacts_V1_FieldValue()
        switch definition.type {
        case .number: value.number = text
        case .date: value.date = text
        case .choice: value.choice = text
        default: value.text = text
        }
        return value
    }

    private static func check(_ value: Crm_Contacts_V1_FieldValue, against definition: FieldDefinition, field: String) throws {
        switch (definition.type, value.value) {
        case (.text, .text(let text)?):
            try Validate.maxLength(text, field, 2_000)
        case (.number, .number(let number)?):
            guard isDecimal(number) else { throw PluginError.invalidArgument("\(field) is not a decimal number: \"\(number)\"") }
        case (.date, .date(let date)?):
            try Validate.date(date, field)
        case (.choice, .choice(let choice)?):
            guard definition.choices.contains(choice) else {
                throw PluginError.invalidArgument("\(field) must be one of \(definition.choices.joined(separator: ", ")), got \"\(choice)\"")
            }
        default:
            throw PluginError.invalidArgument("\(field) must be a \(typeName(definition.type)) value")
        }
    }

    /// "-12.50", "3", "0.125": an optional sign, digits, an optional fraction.
    static func isDecimal(_ text: String) -> Bool {
        var body = Substring(text)
        if body.first == "-" || body.first == "+" { body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, text.count <= 40 else { return false }
        return parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }

    private static func typeName(_ type: Crm_Contacts_V1_FieldType) -> String {
        switch type {
        case .text: return "text"
        case .number: return "number"
        case .date: return "date"
        case .choice: return "choice"
        default: return "known"
        }
    }
}
