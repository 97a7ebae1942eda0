import B2BTestClient
import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// Envelopes and contracts living with contacts: their events on the
/// customer's timeline, the GDPR export part, merges followed, erasure.
@Suite struct ContractContactsTests {
    @Test func signatureAndContractEventsLandOnTheTimeline() async throws {
        let world = try await B2BWorld.signing(users: [])
        let (contract, quote, _) = try await world.signedContract()
        var topics: [String] = []
        #expect(try await eventually {
            topics = try await world.contacts.timeline(organization: contract.organizationID, pageSize: 500).entries
                .map(\.topic).filter { $0.hasPrefix("b2b.envelope.") || $0.hasPrefix("b2b.contract.") }
            return topics.count == 4
        })
        #expect(topics == ["b2b.envelope.signed", "b2b.contract.created", "b2b.envelope.sent", "b2b.envelope.created"])
        #expect(try await eventually {
            try await world.contacts.timeline(person: quote.personID, pageSize: 500).entries
                .contains { $0.topic == "b2b.contract.created" && $0.summary.hasPrefix("Contract \(contract.id) signed: 210.00 EUR") }
        })
    }

    @Test func exportMergeAndErasureFollowTheSignerAndTheContract() async throws {
        let world = try await B2BWorld.signing()
        let (quote, _, person) = try await world.sentQuote()
        let envelope = try await world.sendForSignature(quote: quote.id, signer: person.id)
        _ = try await world.event("x-sent", envelope: envelope.id, "sent")
        let contract = try await world.event("x-signed", envelope: envelope.id, "signed").contract
        #expect(contract.personID == person.id)
        let export: Crm_Contacts_V1_ModuleData = try await world.connection.call(
            b2bService + "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = person.id })
        #expect(export.records.map(\.typeName) == ["crm.b2b.v1.Quote", "crm.b2b.v1.Envelope", "crm.b2b.v1.Contract"])
        #expect(try BEnvelope(serializedBytes: export.records[1].payload).id == envelope.id)
        #expect(try BContract(serializedBytes: export.records[2].payload).id == contract.id)

        // Merges: the envelope's signer and the contract's person and organization name the survivors.
        let twin = try await world.contacts.createPerson("Grace", "Hopper")
        _ = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = twin.id; $0.mergedID = person.id
        }, as: CPerson.self)
        let parent = try await world.contacts.createOrganization("Acme Holding")
        _ = try await world.contacts.call("MergeOrganizations", Crm_Contacts_V1_MergeOrganizationsRequest.with {
            $0.survivorID = parent.id; $0.mergedID = contract.organizationID
        }, as: COrganization.self)
        #expect(try await eventually {
            let c = try await world.contract(contract.id)
            let e = try await world.envelope(envelope.id)
            return c.personID == twin.id && c.organizationID == parent.id && e.signerPersonID == twin.id
        })
        // Erasure: unlinked, the contract and what was signed stay.
        _ = try await world.contacts.call("ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with {
            $0.id = twin.id; $0.reason = "GDPR request 9"
        }, as: Crm_Contacts_V1_ErasePersonResponse.self)
        #expect(try await eventually {
            let c = try await world.contract(contract.id)
            let e = try await world.envelope(envelope.id)
            return c.personID == 0 && e.signerPersonID == 0
        })
        let after = try await world.contract(contract.id)
        #expect(after.contentHash == quote.contentHash && after.terms.value.amountMinor == 21000 && after.organizationID == parent.id)
        let empty: Crm_Contacts_V1_ModuleData = try await world.connection.call(
            b2bService + "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = twin.id })
        #expect(empty.records.isEmpty)
        for (entity, id) in [("b2b.contract", contract.id), ("b2b.envelope", envelope.id)] {
            let audit: Crm_Kernel_V1_ListAuditResponse = try await world.connection.call(
                "/crm.kernel.v1.Audit/List", Crm_Kernel_V1_ListAuditRequest.with { $0.entity = entity; $0.recordID = "\(id)" })
            #expect(Set(audit.entries.map(\.action)).isSuperset(of: ["create", "merge", "erase"]), "\(entity)")
        }
        // The opportunity's new owner owns its envelope and contract (record scope follows sales).
        _ = try await world.sales.call("UpdateOpportunity", Crm_Sales_V1_UpdateOpportunityRequest.with {
            $0.opportunity.id = contract.opportunityID; $0.opportunity.owner = "bob"; $0.updateMask = ["owner"]
        }, as: Crm_Sales_V1_Opportunity.self)
        #expect(try await eventually {
            let c = try await world.contract(contract.id)
            let e = try await world.envelope(envelope.id)
            return c.owner == "bob" && e.owner == "bob"
        })
    }
}
