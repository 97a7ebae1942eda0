import CRMPluginKit
import ContactsContract

/// The audit trail of contacts' writes: one entry per record a write
/// changes, in the write's transaction, with every changed field's old and
/// new value. A record is flattened to [field: text] with stable texts for
/// lists (emails, phones, addresses, tags: "; "-joined in the record's
/// order) and one field per custom field ("custom.<key>"); a field without
/// a value is absent, which the trail shows as "no value".
enum AuditTrail {
    static let personEntity = "contacts.person"
    static let organizationEntity = "contacts.organization"
    static let customFieldEntity = "contacts.custom_field"

    static func person(_ ctx: CallContext, _ action: String, before: Person?, after: Person) throws {
        try record(ctx, AuditEntry(entity: personEntity, recordID: String(after.id), action: action, owner: ownerOrNil(after.owner),
                                   changes: FieldChange.between(old: before.map(flatten) ?? [:], new: flatten(after))))
    }

    static func organization(_ ctx: CallContext, _ action: String, before: Organization?, after: Organization) throws {
        try record(ctx, AuditEntry(entity: organizationEntity, recordID: String(after.id), action: action,
                                   owner: ownerOrNil(after.owner),
                                   changes: FieldChange.between(old: before.map(flatten) ?? [:], new: flatten(after))))
    }

    /// A definition's id is "<entity>.<key>", e.g. "person.tier".
    static func customField(_ ctx: CallContext, entity: EntityKind, before: FieldDefinition?, after: FieldDefinition) throws {
        try record(ctx, AuditEntry(entity: customFieldEntity, recordID: "\(entity == .person ? "person" : "organization").\(after.key)",
                                   action: before == nil ? "create" : "update",
                                   changes: FieldChange.between(old: before.map(flatten) ?? [:], new: flatten(after))))
    }

    /// Records the entry. A crmd whose audit trail is not built yet answers
    /// UNIMPLEMENTED; contacts then writes without one rather than refuse
    /// every write (any other failure rolls the write back).
    static func record(_ ctx: CallContext, _ entry: AuditEntry) throws {
        var capped = entry
        capped.changes = entry.changes.map { FieldChange($0.field, old: $0.old.map(cap), new: $0.new.map(cap)) }
        do { try ctx.audit(capped) } catch let error as PluginError where error.status == .unimplemented {}
    }

    /// crmd takes values up to 64 KiB; a person's notes or addresses, valid
    /// in characters, can be longer in bytes. The trail keeps their start
    /// rather than refuse the write.
    static let maxValueBytes = 60_000

    static func cap(_ value: String) -> String {
        guard value.utf8.count > maxValueBytes else { return value }
        var out = ""
        var bytes = 0
        for character in value {
            bytes += character.utf8.count
            if bytes > maxValueBytes { break }
            out.append(character)
        }
        return out + " [truncated]"
    }

    static func flatten(_ p: Person) -> [String: String] {
        var out: [String: String] = [:]
        func put(_ field: String, _ value: String) { if !value.isEmpty { out[field] = value } }
        put("first_name", p.firstName)
        put("last_name", p.lastName)
        put("emails", p.emails.map { labelled($0.address, $0.label) }.joined(separator: "; "))
        put("phones", p.phones.map { labelled($0.number, $0.label) }.joined(separator: "; "))
        put("addresses", p.addresses.map(text).joined(separator: "; "))
        put("job_title", p.jobTitle)
        put("organization_id", number(p.organizationID))
        put("owner", p.owner)
        put("source", p.source)
        put("lifecycle_stage", LifecycleNames.name(p.lifecycleStage))
        put("notes", p.notes)
        put("tags", p.tags.joined(separator: "; "))
        for (key, value) in p.customFields { put("custom.\(key)", text(value)) }
        put("external_id", p.externalID)
        put("deleted_unix_us", number(p.deletedUnixUs))
        put("merged_into_id", number(p.mergedIntoID))
        put("erased_unix_us", number(p.erasedUnixUs))
        return out
    }

    static func flatten(_ o: Organization) -> [String: String] {
        var out: [String: String] = [:]
        func put(_ field: String, _ value: String) { if !value.isEmpty { out[field] = value } }
        put("name", o.name)
        put("domain", o.domain)
        put("industry", o.industry)
        put("phones", o.phones.map { labelled($0.number, $0.label) }.joined(separator: "; "))
        put("addresses", o.addresses.map(text).joined(separator: "; "))
        put("owner", o.owner)
        put("tags", o.tags.joined(separator: "; "))
        for (key, value) in o.customFields { put("custom.\(key)", text(value)) }
        put("notes", o.notes)
        put("external_id", o.externalID)
        put("deleted_unix_us", number(o.deletedUnixUs))
        put("merged_into_id", number(o.mergedIntoID))
        return out
    }

    static func flatten(_ d: FieldDefinition) -> [String: String] {
        var out = ["label": d.label, "type": "\(d.type)", "required": d.required ? "true" : "false"]
        if !d.choices.isEmpty { out["choices"] = d.choices.joined(separator: "; ") }
        return out
    }

    private static func number(_ value: Int64) -> String { value == 0 ? "" : String(value) }

    private static func labelled(_ value: String, _ label: String) -> String {
        label.isEmpty ? value : "\(value) (\(label))"
    }

    private static func text(_ a: Crm_Contacts_V1_Address) -> String {
        let parts = [a.street, a.city, a.region, a.postalCode, a.country].filter { !$0.isEmpty }.joined(separator: ", ")
        return a.label.isEmpty ? parts : "\(a.label): \(parts)"
    }

    private static func text(_ value: Crm_Contacts_V1_FieldValue) -> String {
        switch value.value {
        case .text(let v)?, .number(let v)?, .date(let v)?, .choice(let v)?: return v
        case nil: return ""
        }
    }
}
