import CRMPluginKit
import ContactsContract
import Foundation

/// One import call's state: caches, counters, and the people its rows named.
///
/// A row finds its person by `id` (crmd's id, as the export writes it; a row
/// error if there is no such live person), else by `external_id`, else it
/// creates one. A call that names one person (or one external id) twice
/// fails the later row, naming the earlier: applying both would let the
/// later silently overwrite the earlier, and a dry run, which writes
/// nothing, could not predict it. A dry run takes every step the real run
/// takes except the writes, so its counts are the real run's.
///
/// Record scope (contacts.person.import's): a row that would update a
/// person out of scope, or give one an owner out of scope, is a row error
/// (PERMISSION_DENIED's message), as is an organization_id the caller may
/// not read (NOT_FOUND's); an empty owner under a limited scope is the
/// caller. An organization named by name is looked for among those the
/// caller may read, and created for the caller when there is none.
struct ImportRun {
    let ctx: CallContext
    let db: Database
    let dryRun: Bool
    private let scope: RecordScope
    private let organizationScope: RecordScope
    var response = Crm_Contacts_V1_ImportPeopleResponse()
    private var organizations: [String: Int64] = [:]
    /// Dry run: stand-in ids (-1, -2, ...) for organizations the real run creates.
    private var plannedOrganizations: Int64 = 0
    private var rowByExternalID: [String: Int64] = [:]
    private var rowByPerson: [Int64: Int64] = [:]
    private let cache = ValidationCache()
    private var store: PersonStore { PersonStore(db: db, cache: cache) }

    init(ctx: CallContext, db: Database, dryRun: Bool) {
        self.ctx = ctx
        self.db = db
        self.dryRun = dryRun
        scope = ctx.scope
        organizationScope = ctx.scope(for: Permission.organizationRead)
    }

    mutating func fail(_ row: Int64, _ column: String, _ message: String) {
        response.failed += 1
        if response.errors.count < CsvImport.maxErrors {
            response.errors.append(.with { $0.row = row; $0.column = column; $0.message = message })
        }
    }

    mutating func importRow(_ values: [(String, String)], row: Int64) throws {
        var incoming = Person()
        var fields: Set<String> = []
        var id: Int64 = 0
        var organizationName: String?
        var organizationByID = false
        for (field, raw) in values {
            let value = raw.trimmedSpaces
            switch field {
            case "id": id = try Self.id(value, "id")
            case "first_name": incoming.firstName = value
            case "last_name": incoming.lastName = value
            case "email": if !value.isEmpty { incoming.emails = [.with { $0.address = value }] }
            case "phone": if !value.isEmpty { incoming.phones = [.with { $0.number = value }] }
            case "job_title": incoming.jobTitle = value
            case "organization": organizationName = value
            case "organization_id":
                // The export writes both; the id is exact where names repeat.
                if !value.isEmpty { incoming.organizationID = try Self.id(value, "organization_id"); organizationByID = true }
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
            switch field {
            case "id": break
            case "email": fields.insert("emails")
            case "phone": fields.insert("phones")
            case "organization": fields.insert("organization_id")
            default: fields.insert(field.hasPrefix("custom.") ? "custom_fields" : field)
            }
        }
        if !incoming.externalID.isEmpty {
            if let earlier = rowByExternalID[incoming.externalID] {
                throw PluginError.invalidArgument("external_id \"\(incoming.externalID)\" repeats row \(earlier); a file names each person once")
            }
            rowByExternalID[incoming.externalID] = row
        }
        var found: Person?
        if id != 0 {
            found = try store.requireLive(id, field: "id", scope: scope)
        } else if !incoming.externalID.isEmpty {
            found = try existingPerson(incoming.externalID)
            if let found { try scope.checkWritable(owner: ownerOrNil(found.owner), "external_id: person \(found.id)") }
        }
        if let found {
            if let earlier = rowByPerson[found.id] {
                throw PluginError.invalidArgument(
                    "\(id != 0 ? "id" : "external_id"): person \(found.id) is already updated by row \(earlier); a file names each person once")
            }
            rowByPerson[found.id] = row
        }
        if !organizationByID, let organizationName { incoming.organizationID = try organization(named: organizationName) }
        if var existing = found {
            try update(&existing, from: incoming, fields: fields)
        } else {
            try create(&incoming)
        }
    }

    private mutating func update(_ existing: inout Person, from incoming: Person, fields: Set<String>) throws {
        let before = existing
        var merged = incoming
        // Custom fields from the file are added to those already set.
        merged.customFields = existing.customFields.merging(incoming.customFields) { $1 }
        // The file has one email and one phone, the primary (first) one: the
        // person's others stay, so an export re-imports unchanged.
        if let primary = incoming.emails.first {
            let key = Normalize.email(primary.address)
            let others = existing.emails.filter { Normalize.email($0.address) != key }
            merged.emails = [existing.emails.first { Normalize.email($0.address) == key } ?? primary] + others
        }
        if let primary = incoming.phones.first {
            let key = Normalize.phone(primary.number)
            let others = existing.phones.filter { Normalize.phone($0.number) != key }
            merged.phones = [existing.phones.first { Normalize.phone($0.number) == key } ?? primary] + others
        }
        PersonStore.apply(merged, to: &existing, fields: fields)
        try PersonMethods.checkScope(ctx, db, &existing, before: before, field: "person", scope: scope)
        try store.validate(&existing)
        let changed = PersonMethods.changedFields(before, existing)
        guard !changed.isEmpty else { response.unchanged += 1; return }
        response.updated += 1
        guard !dryRun else { return }
        existing.version += 1
        existing.updatedUnixUs = UTCClock.nowMicros()
        try store.save(existing)
        try AuditTrail.person(ctx, "update", before: before, after: existing)
        try PersonMethods.publish(ctx, "updated", existing, changed: changed,
                                  summary: "Contact \(PersonStore.displayName(existing)) updated by import")
    }

    private mutating func create(_ incoming: inout Person) throws {
        incoming.owner = try scope.checkedOwner(incoming.owner, field: "person.owner", "person")
        if incoming.organizationID > 0 {
            try checkOrganizationReachable(db, incoming.organizationID, field: "person", scope: organizationScope)
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
        try AuditTrail.person(ctx, "create", before: nil, after: incoming)
        try PersonMethods.publish(ctx, "created", incoming, summary: "Contact \(PersonStore.displayName(incoming)) imported")
    }

    /// A positive id from a cell; empty is none.
    private static func id(_ text: String, _ column: String) throws -> Int64 {
        guard !text.isEmpty else { return 0 }
        guard let value = Int64(text), value > 0 else {
            throw PluginError.invalidArgument("\(column) \"\(text)\" is not a positive id")
        }
        return value
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

    /// An organization by exact (normalized) name, created when missing; a
    /// dry run checks it as the real run would and stands in an id for it.
    private mutating func organization(named name: String) throws -> Int64 {
        guard !name.isEmpty else { return 0 }
        let key = Normalize.name(name)
        if let id = organizations[key] { return id }
        let inScope = organizationScope.condition(ownerColumn: "owner")
        var id = try db.query("""
            SELECT id FROM contacts_organizations WHERE deleted_us = 0 AND name_key = ? AND \(inScope.sql) ORDER BY id LIMIT 1
            """, [.text(key)] + inScope.parameters).first?.first?.int ?? 0
        if id == 0 {
            var organization = Organization()
            organization.name = name
            organization.owner = try scope.owner(for: "", "organization")
            let organizations = OrganizationStore(db: db)
            try organizations.validate(&organization, field: "organization")
            if dryRun {
                plannedOrganizations -= 1
                id = plannedOrganizations
            } else {
                let now = UTCClock.nowMicros()
                organization.version = 1
                organization.createdUnixUs = now
                organization.updatedUnixUs = now
                try organizations.insert(&organization)
                try AuditTrail.organization(ctx, "create", before: nil, after: organization)
                try OrganizationMethods.publish(ctx, "created", organization, summary: "Organization \(name) created by import")
                id = organization.id
            }
        }
        organizations[key] = id
        // Found among the undeleted (merged ones are deleted too), just made or planned: live.
        cache.liveOrganizations.insert(id)
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
