import CRMPluginKit
import ContactsContract

/// Merges one organization into another: its people move to the survivor,
/// along with its timeline, phones, addresses, tags and custom fields.
enum OrganizationMerge {
    static func register(on def: PluginDefinition) {
        def.unary(Contacts.service + "MergeOrganizations", merge)
    }

    static func merge(_ ctx: CallContext, _ req: Crm_Contacts_V1_MergeOrganizationsRequest) throws -> Organization {
        try Validate.positiveID(req.survivorID, "survivor_id")
        try Validate.positiveID(req.mergedID, "merged_id")
        guard req.survivorID != req.mergedID else { throw PluginError.invalidArgument("merged_id must differ from survivor_id") }
        let db = try ctx.database
        let store = OrganizationStore(db: db)
        // Both sides are written: each must be in the caller's scope. The
        // merged one's people follow it whoever owns them (the merge is of
        // organizations; each moved person gets an audit entry).
        let scope = ctx.scope
        var survivor = try store.requireLive(req.survivorID, field: "survivor_id", scope: scope)
        var merged = try store.requireLive(req.mergedID, field: "merged_id", scope: scope)
        let (survivorBefore, mergedBefore) = (survivor, merged)
        combine(merged, into: &survivor)
        try store.validate(&survivor, field: "merged organization")
        let now = UTCClock.nowMicros()
        stampMerge(&survivor, &merged, at: now)
        // Its subsidiaries follow it, so the survivor heads the merged tree.
        let moved = try OrganizationHierarchy.merge(db, merged, into: &survivor, at: now)
        try store.save(survivor)
        try store.save(merged)
        try AuditTrail.organization(ctx, "merge", before: survivorBefore, after: survivor)
        try AuditTrail.organization(ctx, "merge", before: mergedBefore, after: merged)
        let people = PersonStore(db: db)
        for row in try db.query("SELECT id FROM contacts_people WHERE organization_id = ?", [.integer(merged.id)]) {
            guard var person = try people.load(row[0].int ?? 0) else { continue }
            let before = person
            person.organizationID = survivor.id
            person.version += 1
            person.updatedUnixUs = now
            try people.save(person)
            try AuditTrail.person(ctx, "update", before: before, after: person)
        }
        for (before, child) in moved {
            try AuditTrail.organization(ctx, "update", before: before, after: child)
            try OrganizationMethods.publish(ctx, "updated", child, changed: ["parent_id"],
                                            summary: "Organization \(child.name) is now a subsidiary of \(survivor.name)")
        }
        try Timeline.move(db, .organization, from: merged.id, to: survivor.id)
        var event = Crm_Contacts_V1_OrganizationEvent()
        event.organization = survivor
        event.mergedID = merged.id
        event.about.organizationIds = [survivor.id]
        event.about.summary = "Organization \(merged.name) (\(merged.id)) merged into \(survivor.name)"
        try TimelineFiling.publish(ctx, "contacts.organization.merged", event, about: event.about,
                                   subject: OrganizationMethods.subject(survivor))
        return survivor
    }

    static func combine(_ merged: Organization, into survivor: inout Organization) {
        for keyPath in [\Organization.domain, \.industry, \.owner] where survivor[keyPath: keyPath].isEmpty {
            survivor[keyPath: keyPath] = merged[keyPath: keyPath]
        }
        if !merged.notes.isEmpty {
            survivor.notes = survivor.notes.isEmpty ? merged.notes : survivor.notes + "\n\n" + merged.notes
        }
        let phones = Set(survivor.phones.map { Normalize.phone($0.number) })
        survivor.phones += merged.phones.filter { !phones.contains(Normalize.phone($0.number)) }
        survivor.addresses += merged.addresses.filter { !survivor.addresses.contains($0) }
        survivor.tags += merged.tags
        for (key, value) in merged.customFields where survivor.customFields[key] == nil { survivor.customFields[key] = value }
        survivor.phones = Array(survivor.phones.prefix(20))
        survivor.addresses = Array(survivor.addresses.prefix(20))
    }
}
