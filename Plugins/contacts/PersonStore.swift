import CRMPluginKit
import Foundation

/// People in `contacts_people`, with their search keys.
struct PersonStore {
    let db: Database
    /// Set by bulk work (imports) to skip repeated lookups.
    var cache: ValidationCache? = nil
    var table: RecordTable<Person> { RecordTable(db: db, table: "contacts_people", entity: .person, noun: "person") }

    /// The writable fields of Person by field number (see UpdateMask).
    static let updateMask = UpdateMask(fields: [
        "first_name": 2, "last_name": 3, "emails": 4, "phones": 5, "addresses": 6, "job_title": 7, "organization_id": 8,
        "owner": 9, "source": 10, "lifecycle_stage": 11, "notes": 12, "tags": 13, "custom_fields": 14, "external_id": 15,
    ])

    func load(_ id: Int64) throws -> Person? { try table.load(id) }
    /// A person to read: NOT_FOUND if missing or out of `scope`.
    func require(_ id: Int64, field: String = "id", scope: RecordScope) throws -> Person {
        try table.require(id, field: field, scope: scope)
    }

    /// A person to write to that exists and is neither deleted nor merged
    /// away: NOT_FOUND, then PERMISSION_DENIED out of `scope`, then
    /// FAILED_PRECONDITION.
    func requireLive(_ id: Int64, field: String = "id", scope: RecordScope) throws -> Person {
        let person = try table.requireWritable(id, field: field, scope: scope)
        if person.erasedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): person \(id) was erased") }
        if person.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("\(field): person \(id) was merged into person \(person.mergedIntoID)")
        }
        if person.deletedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): person \(id) is deleted") }
        return person
    }

    func insert(_ person: inout Person) throws {
        try table.insert(&person, columns: columns(person))
        try SearchIndex(db: db).replace(.person, person.id, with: SearchIndex.keys(for: person), fresh: true)
    }

    func save(_ person: Person) throws {
        try table.save(person, columns: columns(person))
        try SearchIndex(db: db).replace(.person, person.id, with: SearchIndex.keys(for: person))
    }

    private func columns(_ p: Person) -> [(String, SQLValue)] {
        [("name_key", .text(Self.sortKey(p))), ("organization_id", .integer(p.organizationID)), ("owner", .text(p.owner)),
         ("lifecycle_stage", .integer(Int64(p.lifecycleStage.rawValue))),
         ("external_id", p.externalID.isEmpty ? .null : .text(p.externalID)),
         ("created_us", .integer(p.createdUnixUs)), ("updated_us", .integer(p.updatedUnixUs)),
         ("deleted_us", .integer(p.deletedUnixUs)), ("merged_into", .integer(p.mergedIntoID)),
         ("erased_us", .integer(p.erasedUnixUs))]
    }

    /// Lists sort by last name, then first name.
    static func sortKey(_ p: Person) -> String {
        [Normalize.name(p.lastName), Normalize.name(p.firstName)].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Checks a person as it is about to be written; `field` prefixes messages.
    /// `externalIDIsFree`: the caller has just looked the external id up
    /// and found nobody (the import does, to decide between create and update).
    func validate(_ p: inout Person, field: String = "person", externalIDIsFree: Bool = false) throws {
        p.firstName = p.firstName.trimmedSpaces
        p.lastName = p.lastName.trimmedSpaces
        if p.firstName.isEmpty && p.lastName.isEmpty {
            throw PluginError.invalidArgument("\(field).last_name or \(field).first_name is required")
        }
        for (name, value, limit) in [("first_name", p.firstName, 200), ("last_name", p.lastName, 200),
                                     ("job_title", p.jobTitle, 200), ("owner", p.owner, 200), ("source", p.source, 100),
                                     ("notes", p.notes, 20_000)] {
            try Validate.maxLength(value, "\(field).\(name)", limit)
        }
        guard p.emails.count <= 20 else { throw PluginError.invalidArgument("\(field).emails has more than 20 entries") }
        var seenEmails: Set<String> = []
        for (i, email) in p.emails.enumerated() {
            p.emails[i].address = email.address.trimmedSpaces
            try Validate.email(p.emails[i].address, "\(field).emails[\(i)].address")
            try Validate.maxLength(email.label, "\(field).emails[\(i)].label", 50)
            guard seenEmails.insert(Normalize.email(email.address)).inserted else {
                throw PluginError.invalidArgument("\(field).emails[\(i)].address repeats \"\(email.address)\"")
            }
        }
        try checkPhones(p.phones, field: "\(field).phones")
        try checkAddresses(p.addresses, field: "\(field).addresses")
        if case .UNRECOGNIZED(let value) = p.lifecycleStage {
            throw PluginError.invalidArgument("\(field).lifecycle_stage \(value) is not a lifecycle stage")
        }
        p.tags = try Tags.clean(p.tags, field: "\(field).tags")
        if p.organizationID != 0 && cache?.liveOrganizations.contains(p.organizationID) != true {
            try Validate.optionalID(p.organizationID, "\(field).organization_id")
            let row = try db.query("SELECT deleted_us, merged_into FROM contacts_organizations WHERE id = ?",
                                   [.integer(p.organizationID)])
            guard let deleted = row.first?[0].int, let mergedInto = row.first?[1].int else {
                throw PluginError.notFound("\(field).organization_id: organization \(p.organizationID) does not exist")
            }
            if mergedInto != 0 {
                throw PluginError.failedPrecondition(
                    "\(field).organization_id: organization \(p.organizationID) was merged into organization \(mergedInto)")
            }
            if deleted != 0 {
                throw PluginError.failedPrecondition("\(field).organization_id: organization \(p.organizationID) is deleted")
            }
            cache?.liveOrganizations.insert(p.organizationID)
        }
        let definitions = try cache?.definitions(db, .person) ?? CustomFields.load(db, .person)
        try CustomFields.validate(definitions, p.customFields, field: "\(field).custom_fields")
        if externalIDIsFree {
            try Validate.maxLength(p.externalID, "\(field).external_id", 200)
        } else {
            try checkExternalID(db, table: "contacts_people", p.externalID, except: p.id, field: "\(field).external_id")
        }
    }

    /// Copies the named fields from `source`.
    static func apply(_ source: Person, to target: inout Person, fields: Set<String>) {
        if fields.contains("first_name") { target.firstName = source.firstName }
        if fields.contains("last_name") { target.lastName = source.lastName }
        if fields.contains("emails") { target.emails = source.emails }
        if fields.contains("phones") { target.phones = source.phones }
        if fields.contains("addresses") { target.addresses = source.addresses }
        if fields.contains("job_title") { target.jobTitle = source.jobTitle }
        if fields.contains("organization_id") { target.organizationID = source.organizationID }
        if fields.contains("owner") { target.owner = source.owner }
        if fields.contains("source") { target.source = source.source }
        if fields.contains("lifecycle_stage") { target.lifecycleStage = source.lifecycleStage }
        if fields.contains("notes") { target.notes = source.notes }
        if fields.contains("tags") { target.tags = source.tags }
        if fields.contains("custom_fields") { target.customFields = source.customFields }
        if fields.contains("external_id") { target.externalID = source.externalID }
    }

    static func displayName(_ p: Person) -> String {
        [p.firstName, p.lastName].filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// Lookups that validation would repeat for every row of an import; lives
/// for one call.
final class ValidationCache {
    var liveOrganizations: Set<Int64> = []
    private var definitionsByEntity: [EntityKind: [String: FieldDefinition]] = [:]

    func definitions(_ db: Database, _ entity: EntityKind) throws -> [String: FieldDefinition] {
        if let known = definitionsByEntity[entity] { return known }
        let loaded = try CustomFields.load(db, entity)
        definitionsByEntity[entity] = loaded
        return loaded
    }
}
