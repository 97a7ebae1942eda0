import CRMPluginKit
import ContactsContract
import Foundation

/// GDPR: export everything held about a person (and erase them: GdprErase).
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
        def.unary(Contacts.service + "ErasePerson", GdprErase.erase)
    }

    /// The person must be in the method's scope (NOT_FOUND otherwise); their
    /// organization is included if the caller may read it, their timeline
    /// with the entries ListTimeline would show; each module's exporter
    /// applies the caller's scope to its own records.
    static func exportData(_ ctx: CallContext, _ req: Crm_Contacts_V1_PersonDataRequest) throws -> Crm_Contacts_V1_PersonDataExport {
        let db = try ctx.database
        var export = Crm_Contacts_V1_PersonDataExport()
        export.person = try PersonStore(db: db).require(req.personID, field: "person_id", scope: ctx.scope)
        export.exportedUnixUs = UTCClock.nowMicros()
        guard export.person.erasedUnixUs == 0 else { return export }
        if export.person.organizationID != 0,
           let organization = try OrganizationStore(db: db).table.loadSerialized(
               export.person.organizationID, scope: ctx.scope(for: Permission.organizationRead)) {
            export.organization = try Organization(serializedBytes: organization)
        }
        // The whole timeline, not a page: an export is complete or useless.
        // A merged person's lives with the survivor, part of the same person.
        let timelineID = try Timeline.resolvePerson(db, req.personID) ?? req.personID
        // The survivor must be in the caller's reach too, as ListTimeline checks.
        guard try Timeline.reachable(db, "contacts_people", timelineID, ctx.scope) else { return export }
        var token = ""
        repeat {
            let page = try Timeline.page(ctx, db, .person, timelineID,
                                         .with { $0.personID = req.personID; $0.pageSize = 500; $0.pageToken = token })
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
}
