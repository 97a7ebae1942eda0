import B2BContract
import CRMPluginKit
import ContactsContract
import Foundation
import SwiftProtobuf

/// B2B's part of a GDPR export (the current revision of each quote naming
/// the person, in the caller's scope) and of an erasure.
enum B2BGdpr {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "ExportPersonData", exportData)
    }

    static func exportData(_ ctx: CallContext, _ req: Crm_Contacts_V1_PersonDataRequest) throws -> Crm_Contacts_V1_ModuleData {
        try Validate.positiveID(req.personID, "person_id")
        let db = try ctx.database
        var filter = SQLFilter()
        filter.add("person_id = ?", .integer(req.personID))
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        var data = Crm_Contacts_V1_ModuleData()
        data.module = "b2b"
        for row in try db.query("SELECT \(QuoteStore.recordColumns) FROM b2b_quotes \(filter.clause) ORDER BY id",
                                filter.parameters) {
            let record = QuoteStore.decodeRecord(row)
            guard let revision = try QuoteStore.revision(db, quote: record.id, record.currentRevision) else { continue }
            let quote = QuoteStore.assemble(record, revision, approvals: try ApprovalRules.approvals(db, record, revision))
            data.records.append(.with {
                $0.typeName = Quote.protoMessageName
                $0.payload = (try? quote.serializedData()) ?? Data()
            })
        }
        // Committee seats, in the caller's scope by their deal's owner.
        var seats = SQLFilter()
        seats.add("c.person_id = ?", .integer(req.personID))
        ctx.scope(for: "b2b.deal.read").apply(to: &seats, ownerColumn: "d.owner")
        let columns = Committee.columns.split(separator: ",").map { "c." + $0.trimmedSpacesAndNewlines }.joined(separator: ", ")
        for row in try db.query("""
            SELECT \(columns), d.buying_organization_id FROM b2b_committee c JOIN b2b_deals d ON d.id = c.deal_id
            \(seats.clause) ORDER BY c.deal_id
            """, seats.parameters) {
            let member = Committee.decode(row, buyer: row.int(9))
            data.records.append(.with {
                $0.typeName = Crm_B2b_V1_CommitteeMember.protoMessageName
                $0.payload = (try? member.serializedData()) ?? Data()
            })
        }
        // Envelopes naming them as signer (scope of b2b.quote.read, as the
        // envelope's quote) and contracts naming them (b2b.contract.read).
        var envelopes = SQLFilter()
        envelopes.add("signer_person_id = ?", .integer(req.personID))
        ctx.scope(for: "b2b.quote.read").apply(to: &envelopes, ownerColumn: "owner")
        for row in try db.query("SELECT \(EnvelopeStore.columns) FROM b2b_envelopes \(envelopes.clause) ORDER BY id",
                                envelopes.parameters) {
            let envelope = try EnvelopeStore.decode(row)
            data.records.append(.with {
                $0.typeName = Envelope.protoMessageName
                $0.payload = (try? envelope.serializedData()) ?? Data()
            })
        }
        var contracts = SQLFilter()
        contracts.add("person_id = ?", .integer(req.personID))
        ctx.scope(for: "b2b.contract.read").apply(to: &contracts, ownerColumn: "owner")
        for row in try db.query("SELECT \(ContractStore.columns) FROM b2b_contracts \(contracts.clause) ORDER BY id",
                                contracts.parameters) {
            let contract = ContractStore.decode(row).contract
            data.records.append(.with {
                $0.typeName = Contract.protoMessageName
                $0.payload = (try? contract.serializedData()) ?? Data()
            })
        }
        return data
    }

    /// On `contacts.contact.erased`: the person is unlinked from every
    /// quote, and each such quote's audit values and stored events (which
    /// name the person in their About) are redacted. The documents name only
    /// the organization, so sent revisions, which never change, hold
    /// nothing of the person.
    static func erased(_ ctx: CallContext, person: Int64) throws {
        guard person > 0 else { return }
        try DealContacts.erased(ctx, person: person)
        try ContractFollowers.erased(ctx, person: person)
        let db = try ctx.database
        let now = UTCClock.nowMicros()
        for row in try db.query("SELECT id, owner FROM b2b_quotes WHERE person_id = ? ORDER BY id", [.integer(person)]) {
            let id = row.int(0)
            try db.execute("UPDATE b2b_quotes SET person_id = 0, version = version + 1, updated_us = ? WHERE id = ?",
                           [.integer(now), .integer(id)])
            try B2BAudit.followed(ctx, id: id, owner: row.text(1), action: "erase", field: "person_id", from: String(person), to: "")
            try ctx.redact(entity: "b2b.quote", recordID: String(id))
        }
    }
}
