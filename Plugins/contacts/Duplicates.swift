import CRMPluginKit
import ContactsContract
import Foundation

/// Duplicate detection on the search keys (normalized email, phone, and
/// last name + first initial at the same organization), and merge.
enum Duplicates {
    static func register(on def: PluginDefinition) {
        def.unary(Contacts.service + "FindDuplicates", find)
        def.unary(Contacts.service + "MergePeople", merge)
    }

    static let reasons: [String: Crm_Contacts_V1_DuplicateReason] = ["e": .email, "p": .phone, "f": .nameAndOrganization]

    static func find(_ ctx: CallContext, _ req: Crm_Contacts_V1_FindDuplicatesRequest) throws -> Crm_Contacts_V1_FindDuplicatesResponse {
        let db = try ctx.database
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        // Only people in scope form, count toward and appear in a group: a
        // rep never learns that someone else's record shares an email.
        let scope = ctx.scope
        let inScope = scope.condition(ownerColumn: "p.owner")
        var filter = SQLFilter()
        filter.add("s.entity = 1 AND s.kind IN ('e', 'p', 'f') AND p.deleted_us = 0")
        filter.add(inScope.sql, inScope.parameters)
        if req.personID != 0 {
            _ = try PersonStore(db: db).require(req.personID, field: "person_id", scope: scope)
            filter.add("""
                (s.kind, s.key) IN (SELECT kind, key FROM contacts_search WHERE entity = 1 AND record_id = ?)
                """, .integer(req.personID))
        }
        if let after = paging.after { filter.add("(s.kind, s.key) > (?, ?)", after[0], after[1]) }
        let keys = try db.query("""
            SELECT s.kind, s.key FROM contacts_search s JOIN contacts_people p ON p.id = s.record_id
            \(filter.clause) GROUP BY s.kind, s.key HAVING COUNT(*) > 1 ORDER BY s.kind, s.key LIMIT ?
            """, filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(keys) { [$0[0], $0[1]] }
        var response = Crm_Contacts_V1_FindDuplicatesResponse()
        let members = try db.prepare("""
            SELECT s.record_id FROM contacts_search s JOIN contacts_people p ON p.id = s.record_id
            WHERE s.entity = 1 AND s.kind = ? AND s.key = ? AND p.deleted_us = 0 AND \(inScope.sql) ORDER BY s.record_id
            """)
        defer { members.finalize() }
        for row in page.rows {
            var group = Crm_Contacts_V1_DuplicateGroup()
            let kind = row[0].string ?? ""
            group.reason = reasons[kind] ?? .unspecified
            group.key = kind == "f" ? displayFuzzyKey(row[1].string ?? "") : row[1].string ?? ""
            try members.reset()
            try members.bind([row[0], row[1]] + inScope.parameters)
            while try members.step() { group.personIds.append(members.column(0).int ?? 0) }
            response.groups.append(group)
        }
        response.nextPageToken = page.nextToken
        return response
    }

    /// "42|smith j" → "smith j @ organization 42"
    private static func displayFuzzyKey(_ key: String) -> String {
        let parts = key.split(separator: "|", maxSplits: 1)
        return parts.count == 2 ? "\(parts[1]) @ organization \(parts[0])" : key
    }

    static func merge(_ ctx: CallContext, _ req: Crm_Contacts_V1_MergePeopleRequest) throws -> Person {
        let db = try ctx.database
        let store = PersonStore(db: db)
        try Validate.positiveID(req.survivorID, "survivor_id")
        try Validate.positiveID(req.mergedID, "merged_id")
        guard req.survivorID != req.mergedID else {
            throw PluginError.invalidArgument("merged_id must differ from survivor_id")
        }
        // Both sides are written: each must be in the caller's scope.
        let scope = ctx.scope
        var survivor = try store.requireLive(req.survivorID, field: "survivor_id", scope: scope)
        var merged = try store.requireLive(req.mergedID, field: "merged_id", scope: scope)
        let (survivorBefore, mergedBefore) = (survivor, merged)
        combine(merged, into: &survivor)
        try store.validate(&survivor, field: "merged person")
        let now = UTCClock.nowMicros()
        stampMerge(&survivor, &merged, at: now)
        try store.save(survivor)
        try store.save(merged)
        try AuditTrail.person(ctx, "merge", before: survivorBefore, after: survivor)
        try AuditTrail.person(ctx, "merge", before: mergedBefore, after: merged)
        try Timeline.move(db, from: merged.id, to: survivor.id)
        try PersonMethods.publish(ctx, "merged", survivor, mergedID: merged.id,
                                  summary: "Contact \(PersonStore.displayName(merged)) (\(merged.id)) merged into \(PersonStore.displayName(survivor))")
        return survivor
    }

    /// The survivor keeps its own values; it gains what it lacks from the
    /// merged record, and the union of emails, phones, addresses and tags.
    static func combine(_ merged: Person, into survivor: inout Person) {
        func fill(_ keyPath: WritableKeyPath<Person, String>) {
            if survivor[keyPath: keyPath].isEmpty { survivor[keyPath: keyPath] = merged[keyPath: keyPath] }
        }
        for keyPath in [\Person.firstName, \.lastName, \.jobTitle, \.owner, \.source] { fill(keyPath) }
        if survivor.externalID.isEmpty && !merged.externalID.isEmpty {
            survivor.externalID = ""  // the merged record keeps its external id, so imports find it and follow merged_into
        }
        if survivor.organizationID == 0 { survivor.organizationID = merged.organizationID }
        if survivor.lifecycleStage.rawValue < merged.lifecycleStage.rawValue && merged.lifecycleStage != .other {
            survivor.lifecycleStage = merged.lifecycleStage
        }
        if !merged.notes.isEmpty {
            survivor.notes = survivor.notes.isEmpty ? merged.notes : survivor.notes + "\n\n" + merged.notes
        }
        let emails = Set(survivor.emails.map { Normalize.email($0.address) })
        survivor.emails += merged.emails.filter { !emails.contains(Normalize.email($0.address)) }
        let phones = Set(survivor.phones.map { Normalize.phone($0.number) })
        survivor.phones += merged.phones.filter { !phones.contains(Normalize.phone($0.number)) }
        survivor.addresses += merged.addresses.filter { !survivor.addresses.contains($0) }
        survivor.tags += merged.tags
        for (key, value) in merged.customFields where survivor.customFields[key] == nil {
            survivor.customFields[key] = value
        }
        survivor.emails = Array(survivor.emails.prefix(20))
        survivor.phones = Array(survivor.phones.prefix(20))
        survivor.addresses = Array(survivor.addresses.prefix(20))
    }
}
