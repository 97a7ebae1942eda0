import CRMPluginKit
import ContactsContract
import Foundation

/// CSV export as a server stream: one keyset page at a time, so memory stays
/// flat however many people match. The columns re-import as they are. Only
/// people in the caller's scope for contacts.person.export are written.
enum CsvExport {
    static let chunkRows: Int32 = 500

    static func register(on def: PluginDefinition) {
        def.serverStream(Contacts.service + "ExportPeople", exportPeople)
    }

    static func exportPeople(_ ctx: CallContext, _ req: Crm_Contacts_V1_ExportPeopleRequest,
                             _ send: (Crm_Contacts_V1_CsvChunk) throws -> Void) throws {
        let db = try ctx.database
        // The export permission's scope for the people; an organization's
        // name only where the caller may read the organization.
        let scope = ctx.scope
        let organizationScope = ctx.scope(for: Permission.organizationRead)
        let customKeys = try CustomFields.load(db, .person).keys.sorted()
        var header = ["id", "external_id", "first_name", "last_name", "email", "phone", "job_title", "organization",
                      "organization_id", "owner", "source", "lifecycle_stage", "tags", "notes", "created_at", "updated_at"]
        header += customKeys.map { "custom.\($0)" }
        try send(.with { $0.csv = CSV.line(header) })
        var organizationNames: [Int64: String] = [:]
        var filter = req.filter
        filter.pageSize = chunkRows
        filter.pageToken = ""
        repeat {
            if ctx.isCancelled { throw PluginError(.cancelled, "export cancelled") }
            let page = try PeopleQueries.page(db, filter, scope: scope)
            var text = ""
            for person in page.people {
                var organization = ""
                if person.organizationID != 0 {
                    if organizationNames[person.organizationID] == nil {
                        organizationNames[person.organizationID] = try OrganizationStore(db: db).table
                            .loadSerialized(person.organizationID, scope: organizationScope)
                            .map { try Organization(serializedBytes: $0).name } ?? ""
                    }
                    organization = organizationNames[person.organizationID] ?? ""
                }
                var row = [String(person.id), person.externalID, person.firstName, person.lastName,
                           person.emails.first?.address ?? "", person.phones.first?.number ?? "", person.jobTitle,
                           organization, person.organizationID == 0 ? "" : String(person.organizationID), person.owner,
                           person.source, LifecycleNames.name(person.lifecycleStage), person.tags.joined(separator: ";"),
                           person.notes, iso8601(person.createdUnixUs), iso8601(person.updatedUnixUs)]
                row += customKeys.map { key in
                    switch person.customFields[key]?.value {
                    case .text(let v)?, .number(let v)?, .date(let v)?, .choice(let v)?: return v
                    case nil: return ""
                    }
                }
                text += CSV.line(row)
            }
            if !page.people.isEmpty {
                let count = Int64(page.people.count)
                try send(.with { $0.csv = text; $0.rows = count })
            }
            filter.pageToken = page.nextPageToken
            if organizationNames.count > 10_000 { organizationNames.removeAll() }
        } while !filter.pageToken.isEmpty
    }

    /// "2026-11-22T18:37:44Z"
    static func iso8601(_ micros: Int64) -> String {
        var seconds = time_t(micros / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec)
    }
}
