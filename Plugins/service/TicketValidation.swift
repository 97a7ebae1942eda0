import CRMPluginKit
import ServiceContract

/// The checks on a ticket's writable fields, shared by CreateTicket,
/// UpdateTicket and the portal; `field` prefixes the names in errors.
enum TicketValidation {
    static let maxBody = 65_536

    static func fields(_ db: Database, _ t: inout Ticket, field: String, customFields: Bool) throws {
        try Check.text(&t.subject, "\(field)subject", max: 300)
        try Validate.required(t.subject, "\(field)subject")
        try Validate.maxLength(t.description_p, "\(field)description", maxBody)
        try Check.known(t.channel.rawValue, 1...4, "\(field)channel", optional: true)
        try Check.known(t.type.rawValue, 1...4, "\(field)type", optional: true)
        try Check.known(t.priority.rawValue, 1...4, "\(field)priority", optional: true)
        if t.priority == .unspecified { t.priority = .normal }
        try Validate.optionalID(t.organizationID, "\(field)organization_id")
        t.tags = try tags(t.tags, "\(field)tags")
        t.followers = try followers(t.followers, "\(field)followers")
        if customFields { try CustomFields.validate(db, &t.customFields, "\(field)custom_fields") }
    }

    /// Lower-cased, unique and sorted; each 1-50 of a-z 0-9 - _.
    static func tags(_ raw: [String], _ field: String) throws -> [String] {
        guard raw.count <= 50 else { throw PluginError.invalidArgument("\(field) has more than 50 entries") }
        var out = Set<String>()
        for (i, value) in raw.enumerated() {
            let tag = value.trimmedSpaces.lowercased()
            let bytes = Array(tag.utf8)
            guard (1...50).contains(bytes.count),
                  bytes.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }) else {
                throw PluginError.invalidArgument("\(field)[\(i)] \"\(value.prefix(60))\" is not 1-50 of a-z 0-9 - _")
            }
            out.insert(tag)
        }
        return out.sorted()
    }

    static func followers(_ raw: [String], _ field: String) throws -> [String] {
        guard raw.count <= 20 else { throw PluginError.invalidArgument("\(field) has more than 20 entries") }
        for (i, user) in raw.enumerated() {
            try Validate.required(user, "\(field)[\(i)]")
            try Check.name(user, "\(field)[\(i)]")
        }
        return Set(raw).sorted()
    }

    /// A message body: required, at most 64 KiB.
    static func body(_ value: String, _ field: String) throws -> String {
        let body = value.trimmedSpacesAndNewlines
        try Validate.required(body, field)
        try Validate.maxLength(body, field, maxBody)
        return body
    }
}
