import CRMPluginKit
import Foundation

/// CSV import, one call per chunk of rows, idempotent by external id.
enum CsvImport {
    static let maxRows = 5_000
    static let maxErrors = 1_000
    static let fields: Set<String> = ["first_name", "last_name", "email", "phone", "job_title", "organization", "owner",
                                      "source", "lifecycle_stage", "notes", "tags", "external_id"]

    static func register(on def: PluginDefinition) {
        def.unary(Contacts.service + "ImportPeople", writes: true, importPeople)
    }

    static func importPeople(_ ctx: CallContext, _ req: Crm_Contacts_V1_ImportPeopleRequest) throws -> Crm_Contacts_V1_ImportPeopleResponse {
        guard !req.header.isEmpty, req.header.count <= 200 else {
            throw PluginError.invalidArgument("header must name between 1 and 200 columns")
        }
        let columns = try resolve(req.header, req.mapping)
        let rows: [[String]]
        do { rows = try CSV.parse(req.csv) } catch let error as CSV.ParseError {
            throw PluginError.invalidArgument("csv row \(rowNumber(req, error.row)): \(error.message)")
        }
        guard rows.count <= maxRows else { throw PluginError.invalidArgument("csv has \(rows.count) rows; send at most \(maxRows) per call") }
        var run = ImportRun(ctx: ctx, db: try ctx.database, dryRun: req.dryRun)
        for (index, row) in rows.enumerated() {
            let number = rowNumber(req, index)
            guard row.count == req.header.count else {
                run.fail(number, "", "has \(row.count) columns, the header has \(req.header.count)")
                continue
            }
            do {
                try run.importRow(zip(columns, row).compactMap { column, value in column.map { ($0, value) } })
            } catch let error as PluginError where error.status != .internal && error.status != .unavailable {
                run.fail(number, column(for: error.message, req.header, columns), error.message)
            }
        }
        return run.response
    }

    /// The file row number: the header is row 1.
    private static func rowNumber(_ req: Crm_Contacts_V1_ImportPeopleRequest, _ index: Int) -> Int64 {
        (req.firstRowNumber > 0 ? req.firstRowNumber : 2) + Int64(index)
    }

    /// Each column's field, or nil to ignore it.
    private static func resolve(_ header: [String], _ mapping: [String: String]) throws -> [String?] {
        for (column, field) in mapping where !header.contains(column) {
            throw PluginError.invalidArgument("mapping names column \"\(column)\" (for \(field)), which the header lacks")
        }
        return try header.map { column in
            if let field = mapping[column] {
                guard field.isEmpty || fields.contains(field) || field.hasPrefix("custom.") else {
                    throw PluginError.invalidArgument("mapping[\"\(column)\"]: \"\(field)\" is not an importable field")
                }
                return field.isEmpty ? nil : field
            }
            let field = column.trimmedSpaces.lowercased()
            return fields.contains(field) || field.hasPrefix("custom.") ? field : nil
        }
    }

    /// The CSV column whose field an error message names.
    private static func column(for message: String, _ header: [String], _ columns: [String?]) -> String {
        for (name, field) in zip(header, columns) {
            guard let field else { continue }
            let path: String
            switch field {
            case "email": path = "emails"
            case "phone": path = "phones"
            case "organization": path = "organization"
            default: path = field.hasPrefix("custom.") ? "custom_fields." + field.dropFirst(7) : field
            }
            if message.contains("person.\(path)") || message.contains(path) { return name }
        }
        return ""
    }
}

/// One import call's state: caches and counters.
struct ImportRun {
    let ctx: CallContext
    let db: Database
    let dryRun: Bool
    var response = Crm_Contacts_V1_ImportPeopleResponse()
    private var organizations: [String: Int64] = [:]
    private let cache = ValidationCache()
    private var store: PersonStore { PersonStore(db: db, cache: cache) }

    init(ctx: CallContext, db: Database, dryRun: Bool) {
        self.ctx = ctx
        self.db = db
        self.dryRun = dryRun
    }

    mutating func fail(_ row: Int64, _ column: String, _ message: String) {
        response.failed += 1
        if response.errors.count < CsvImport.maxErrors {
            response.errors.append(.with { $0.row = row; $0.column = column; $0.message = message })
        }
    }

    mutating func importRow(_ values: [(String, String)]) throws {
        var incoming = Person()
        var mask: [String] = []
        for (field, raw) in values {
            let value = raw.trimmedSpaces
            switch field {
            case "first_name": incoming.firstName = value
            case "last_name": incoming.lastName = value
            case "email": if !value.isEmpty { incoming.emails = [.with { $0.address = value }] }
            case "phone": if !value.isEmpty { incoming.phones = [.with { $0.number = value }] }
            case "job_title": incoming.jobTitle = value
            case "organization": incoming.organizationID = try organization(named: value)
            case "owner": incoming.owner = value
            case "source": incoming.source = value
            case "lifecycle_stage": incoming.lifecycleStage = try LifecycleNames.stage(value)
            case "notes": incoming.notes = raw
            case "tags": incoming.tags = value.split(separator: ";").map { String($0) }
            case "external_id": incoming.externalID = value
            default:
                let key = String(field.dropFirst("custom.".count))
                if !value.isEmpty { incoming.customFields[key] = try CustomFields.value(cache.definitions(db, .person), key: key, text: value) }
            }
            let name = field.hasPrefix("custom.") ? "custom_fields" : field == "email" ? "emails"
                : field == "phone" ? "phones" : field == "organization" ? "organization_id" : field
            if !mask.contains(name) { mask.append(name) }
        }
        if !incoming.externalID.isEmpty, var existing = try existingPerson(incoming.externalID) {
            let before = existing
            var merged = incoming
            // Custom fields from the file are added to those already set.
            merged.customFields = existing.customFields.merging(incoming.customFields) { $1 }
            PersonStore.apply(merged, to: &existing, mask: mask)
            try store.validate(&existing)
            let changed = PersonMethods.changedFields(before, existing)
            guard !changed.isEmpty else { response.unchanged += 1; return }
            response.updated += 1
            guard !dryRun else { return }
            existing.version += 1
            existing.updatedUnixUs = UTCClock.nowMicros()
            try store.save(existing)
            try PersonMethods.publish(ctx, "updated", existing, changed: changed,
                                      summary: "Contact \(PersonStore.displayName(existing)) updated by import")
            return
        }
        // existingPerson found nobody with this external id: no second lookup.
        try store.validate(&incoming, externalIDIsFree: !incoming.externalID.isEmpty)
        response.created += 1
        guard !dryRun else { return }
        let now = UTCClock.nowMicros()
        incoming.version = 1
        incoming.createdUnixUs = now
        incoming.updatedUnixUs = now
        try store.insert(&incoming)
        try PersonMethods.publish(ctx, "created", incoming, summary: "Contact \(PersonStore.displayName(incoming)) imported")
    }

    /// The live person with this external id, following merges.
    private func existingPerson(_ externalID: String) throws -> Person? {
        guard let id = try db.query("SELECT id FROM contacts_people WHERE external_id = ?", [.text(externalID)]).first?.first?.int,
              var person = try store.load(id) else { return nil }
        var hops = 0
        while person.mergedIntoID != 0, hops < 8, let next = try store.load(person.mergedIntoID) {
            person = next
            hops += 1
        }
        if person.erasedUnixUs != 0 { throw PluginError.failedPrecondition("external_id \"\(externalID)\" belongs to an erased person") }
        return person
    }

    /// An organization by exact (normalized) name, created when missing.
    private mutating func organization(named name: String) throws -> Int64 {
        guard !name.isEmpty else { return 0 }
        let key = Normalize.name(name)
        if let id = organizations[key] { return id }
        var id = try db.query("SELECT id FROM contacts_organizations WHERE deleted_us = 0 AND name_key = ? ORDER BY id LIMIT 1",
                              [.text(key)]).first?.first?.int ?? 0
        if id == 0 && !dryRun {
            var organization = Organization()
            organization.name = name
            let organizations = OrganizationStore(db: db)
            try organizations.validate(&organization)
            let now = UTCClock.nowMicros()
            organization.version = 1
            organization.createdUnixUs = now
            organization.updatedUnixUs = now
            try organizations.insert(&organization)
            try OrganizationMethods.publish(ctx, "created", organization, summary: "Organization \(name) created by import")
            id = organization.id
        }
        if id != 0 {
            organizations[key] = id
            // Found among the undeleted (merged ones are deleted too) or just made: live.
            cache.liveOrganizations.insert(id)
        }
        return id
    }
}

/// Lifecycle stages by their CSV names: "customer", "lead", ...
enum LifecycleNames {
    static let byName: [String: Crm_Contacts_V1_LifecycleStage] = [
        "": .unspecified, "subscriber": .subscriber, "lead": .lead, "qualified": .qualified,
        "opportunity": .opportunity, "customer": .customer, "evangelist": .evangelist, "other": .other,
    ]

    static func stage(_ text: String) throws -> Crm_Contacts_V1_LifecycleStage {
        guard let stage = byName[text.lowercased()] else {
            throw PluginError.invalidArgument("lifecycle_stage \"\(text)\" is not one of \(byName.keys.filter { !$0.isEmpty }.sorted().joined(separator: ", "))")
        }
        return stage
    }

    static func name(_ stage: Crm_Contacts_V1_LifecycleStage) -> String {
        byName.first { $0.value == stage }?.key ?? ""
    }
}
