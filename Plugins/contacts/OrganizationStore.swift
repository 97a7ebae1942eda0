import CRMPluginKit
import Foundation

/// Organizations in `contacts_organizations`, with their search keys.
struct OrganizationStore {
    let db: Database
    var table: RecordTable<Organization> {
        RecordTable(db: db, table: "contacts_organizations", entity: .organization, noun: "organization")
    }

    /// The writable fields of Organization by field number (see UpdateMask).
    static let updateMask = UpdateMask(fields: [
        "name": 2, "domain": 3, "industry": 4, "phones": 5, "addresses": 6, "owner": 7, "tags": 8, "custom_fields": 9,
        "notes": 10, "external_id": 11, "parent_id": 17,
    ])

    func load(_ id: Int64) throws -> Organization? { try table.load(id) }
    /// An organization to read: NOT_FOUND if missing or out of `scope`.
    func require(_ id: Int64, field: String = "id", scope: RecordScope) throws -> Organization {
        try table.require(id, field: field, scope: scope)
    }

    /// One to write to, live: NOT_FOUND, PERMISSION_DENIED out of `scope`, FAILED_PRECONDITION.
    func requireLive(_ id: Int64, field: String = "id", scope: RecordScope) throws -> Organization {
        let organization = try table.requireWritable(id, field: field, scope: scope)
        if organization.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("\(field): organization \(id) was merged into organization \(organization.mergedIntoID)")
        }
        if organization.deletedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): organization \(id) is deleted") }
        return organization
    }

    func insert(_ organization: inout Organization) throws {
        try table.insert(&organization, columns: columns(organization))
        try SearchIndex(db: db).replace(.organization, organization.id, with: SearchIndex.keys(for: organization), fresh: true)
    }

    func save(_ organization: Organization) throws {
        try table.save(organization, columns: columns(organization))
        try SearchIndex(db: db).replace(.organization, organization.id, with: SearchIndex.keys(for: organization))
    }

    private func columns(_ o: Organization) -> [(String, SQLValue)] {
        [("name_key", .text(Normalize.name(o.name))), ("owner", .text(o.owner)),
         ("external_id", o.externalID.isEmpty ? .null : .text(o.externalID)),
         ("created_us", .integer(o.createdUnixUs)), ("updated_us", .integer(o.updatedUnixUs)),
         ("deleted_us", .integer(o.deletedUnixUs)), ("merged_into", .integer(o.mergedIntoID)),
         ("parent_id", .integer(o.parentID))]
    }

    func validate(_ o: inout Organization, field: String = "organization") throws {
        o.name = o.name.trimmedSpaces
        try Validate.required(o.name, "\(field).name")
        o.domain = o.domain.trimmedSpaces.lowercased()
        for (name, value, limit) in [("name", o.name, 200), ("domain", o.domain, 253), ("industry", o.industry, 100),
                                     ("owner", o.owner, 200), ("notes", o.notes, 20_000)] {
            try Validate.maxLength(value, "\(field).\(name)", limit)
        }
        if !o.domain.isEmpty, !o.domain.contains(".") || o.domain.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "@" }) {
            throw PluginError.invalidArgument("\(field).domain is not a domain name: \"\(o.domain)\"")
        }
        try checkPhones(o.phones, field: "\(field).phones")
        try checkAddresses(o.addresses, field: "\(field).addresses")
        o.tags = try Tags.clean(o.tags, field: "\(field).tags")
        try CustomFields.validate(CustomFields.load(db, .organization), o.customFields, field: "\(field).custom_fields")
        try checkExternalID(db, table: "contacts_organizations", o.externalID, except: o.id, field: "\(field).external_id")
    }

    static func apply(_ source: Organization, to target: inout Organization, fields: Set<String>) {
        if fields.contains("name") { target.name = source.name }
        if fields.contains("domain") { target.domain = source.domain }
        if fields.contains("industry") { target.industry = source.industry }
        if fields.contains("phones") { target.phones = source.phones }
        if fields.contains("addresses") { target.addresses = source.addresses }
        if fields.contains("owner") { target.owner = source.owner }
        if fields.contains("tags") { target.tags = source.tags }
        if fields.contains("custom_fields") { target.customFields = source.customFields }
        if fields.contains("notes") { target.notes = source.notes }
        if fields.contains("external_id") { target.externalID = source.externalID }
        if fields.contains("parent_id") { target.parentID = source.parentID }
    }
}
