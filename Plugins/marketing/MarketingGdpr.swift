import CRMPluginKit
import ContactsContract
import Foundation
import MarketingContract
import SwiftProtobuf

/// Marketing's part of a GDPR export: the person's consent per channel,
/// their whole ledger, the suppressions of their addresses, the campaigns
/// they were in, their engagement and attributions, and their journeys
/// (enrollments and step log).
enum MarketingGdpr {
    static func register(on def: PluginDefinition) {
        def.unary(Marketing.service + "ExportPersonData", exportData)
    }

    static func exportData(_ ctx: CallContext, _ req: Crm_Contacts_V1_PersonDataRequest) throws -> Crm_Contacts_V1_ModuleData {
        try Validate.positiveID(req.personID, "person_id")
        // The person must be in the caller's contacts scope, as for any read.
        let person = try ConsentMethods.requirePerson(ctx, req.personID)
        let db = try ctx.database
        var data = Crm_Contacts_V1_ModuleData()
        data.module = "marketing"
        func add(_ message: some Message) throws {
            data.records.append(.with {
                $0.typeName = type(of: message).protoMessageName
                $0.payload = (try? message.serializedData()) ?? Data()
            })
        }
        for channel in Consent.channels {
            let state = try ConsentStore.state(db, person.id, channel)
            if state.status != .unspecified { try add(state) }
        }
        var suppressions = Set<Int64>()
        for row in try db.query("SELECT \(ConsentStore.ledgerColumns) FROM marketing_consent_ledger WHERE person_id = ? ORDER BY id",
                                [.integer(person.id)]) {
            let entry = ConsentStore.ledgerEntry(row)
            try add(entry)
            if !entry.address.isEmpty, let s = try ConsentSuppressions.find(db, entry.channel, entry.address) { suppressions.insert(s.id) }
        }
        for channel in Consent.channels {
            if let address = ConsentMethods.primaryAddress(person, channel),
               let s = try ConsentSuppressions.find(db, channel, address) { suppressions.insert(s.id) }
        }
        for row in try db.query("SELECT id FROM marketing_suppressions WHERE person_id = ?", [.integer(person.id)]) {
            suppressions.insert(row[0].int ?? 0)
        }
        for id in suppressions.sorted() {
            if let row = try db.query("SELECT \(ConsentSuppressions.columns) FROM marketing_suppressions WHERE id = ?",
                                      [.integer(id)]).first {
                try add(ConsentSuppressions.decode(row))
            }
        }
        for recipient in try CampaignResults.personRecords(db, personID: person.id) { try add(recipient) }
        try TrackingPeople.export(db, person: person.id) { try add($0) }
        try JourneyPeople.export(db, person: person.id) { try add($0) }
        return data
    }
}
