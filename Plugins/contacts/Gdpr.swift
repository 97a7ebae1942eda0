import CRMPluginKit
import ContactsContract
import Foundation

/// GDPR: export everything held about a person, and erase them.
enum Gdpr {
    /// Methods of other modules that contribute to an export, unless the
    /// `gdpr_exporters` setting (comma-separated) says otherwise. Modules
    /// that are not loaded are skipped.
    static let defaultExporters = [
        "/crm.sales.v1.Sales/ExportPersonData", "/crm.marketing.v1.Marketing/ExportPersonData",
        "/crm.service.v1.Service/ExportPersonData", "/crm.loyalty.v1.Loyalty/ExportPersonData",
        "/crm.b2b.v1.B2B/ExportPersonData",
    ]

    static func register(on def: PluginDefinition) {
        def.unary(Contacts.service + "ExportPersonData", exportData)
        def.unary(Contacts.service + "ErasePerson", erase)
    }

    static func exportData(_ ctx: CallContext, _ req: Crm_Contacts_V1_PersonDataRequest) throws -> Crm_Contacts_V1_PersonDataExport {
        let db = try ctx.database
        var export = Crm_Contacts_V1_PersonDataExport()
        export.person = try PersonStore(db: db).require(req.personID, field: "person_id")
        export.exportedUnixUs = UTCClock.nowMicros()
        guard export.person.erasedUnixUs == 0 else { return export }
        if let organization = try OrganizationStore(db: db).load(export.person.organizationID) {
            export.organization = organization
        }
        // The whole timeline, not a page: an export is complete or useless.
        var token = ""
        repeat {
            let page = try Timeline.list(ctx, .with { $0.personID = req.personID; $0.pageSize = 500; $0.pageToken = token })
            export.timeline += page.entries
            token = page.nextPageToken
        } while !token.isEmpty
        let request: [UInt8] = try req.serializedBytes()
        let exporters = ctx.host.config("gdpr_exporters")
            .map { $0.split(separator: ",").map { $0.trimmedSpaces } } ?? defaultExporters
        for method in exporters where !method.isEmpty {
            do {
                let bytes = try ctx.host.invoke(method, request: request, parent: ctx)
                export.modules.append(try Crm_Contacts_V1_ModuleData(serializedBytes: bytes))
            } catch let error as PluginError where error.status == .unimplemented {
                continue  // that module is not loaded
            }
        }
        return export
    }

    static func erase(_ ctx: CallContext, _ req: Crm_Contacts_V1_ErasePersonRequest) throws -> Crm_Contacts_V1_ErasePersonResponse {
        try Validate.required(req.reason, "reason")
        try Validate.maxLength(req.reason, "reason", 500)
        let db = try ctx.database
        let store = PersonStore(db: db)
        let person = try store.require(req.id)
        guard person.erasedUnixUs == 0 else { throw PluginError.failedPrecondition("id: person \(req.id) is already erased") }
        let now = UTCClock.nowMicros()
        var tombstone = Person()
        tombstone.id = person.id
        tombstone.version = person.version + 1
        tombstone.createdUnixUs = person.createdUnixUs
        tombstone.updatedUnixUs = now
        tombstone.deletedUnixUs = person.deletedUnixUs == 0 ? now : person.deletedUnixUs
        tombstone.erasedUnixUs = now
        try store.save(tombstone)
        try SearchIndex(db: db).delete(.person, person.id)
        try db.execute("DELETE FROM contacts_timeline WHERE record_id = ? AND entity = 1", [.integer(person.id)])
        // People merged into this one are part of the same person.
        for row in try db.query("SELECT id FROM contacts_people WHERE merged_into = ? AND erased_us = 0", [.integer(person.id)]) {
            var merged = Person()
            merged.id = row[0].int ?? 0
            merged.mergedIntoID = person.id
            merged.deletedUnixUs = now
            merged.erasedUnixUs = now
            try store.save(merged)
            try SearchIndex(db: db).delete(.person, merged.id)
        }
        let audit = try db.execute("""
            INSERT INTO contacts_audit (action, entity, record_id, at_us, actor_uid, actor_plugin, reason)
            VALUES ('erase', 1, ?, ?, ?, ?, ?)
            """, [.integer(person.id), .integer(now), .integer(ctx.callerUID), .text(ctx.callingPlugin ?? ""), .text(req.reason)])
        var event = Crm_Contacts_V1_PersonEvent()
        event.person = tombstone
        try TimelineFiling.publish(ctx, "contacts.contact.erased", event, about: nil)
        var response = Crm_Contacts_V1_ErasePersonResponse()
        response.tombstone = tombstone
        response.auditID = audit.lastInsertID
        return response
    }
}
