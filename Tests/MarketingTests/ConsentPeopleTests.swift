import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Consent through what contacts does to people (merge, erasure, the GDPR
/// export) and the suppression list's rpcs, end to end over the socket.
@Suite struct ConsentPeopleTests {
    @Test func suppressedAddressesAreRefusedAtSendTimeUntilRemoved() async throws {
        let world = try ConsentWorld()
        let m = world.marketing
        let ann = try await world.person("Ann", email: "Ann@Example.com")
        _ = try await m.setConsent(ann, .subscribed, evidence: "signed form 12")
        #expect(try await m.checkSending(ann).allowed)

        let added = try await m.addSuppression(" ANN@example.com ", .manual, detail: "asked by phone")
        #expect(added.address == "ann@example.com" && added.reason == .manual && added.addressSha256.count == 64)
        let check = try await m.checkSending(ann)
        #expect(!check.allowed && check.status == .subscribed && check.suppression.id == added.id)
        #expect(try await m.suppressions(channel: .email).suppressions.map(\.id) == [added.id])
        #expect(try await m.suppressions(channel: .sms).suppressions.isEmpty)

        let removed = try await m.removeSuppression("ann@EXAMPLE.com")
        #expect(removed.removed.id == added.id)
        #expect(try await m.checkSending(ann).allowed)
        await expectRPCError(.notFound, mentioning: "address \"ann@example.com\" is not suppressed for EMAIL") { _ = try await m.removeSuppression("ann@example.com") }
        await expectRPCError(.invalidArgument, mentioning: "channel is required") {
            _ = try await m.addSuppression("x@example.com", channel: .unspecified)
        }
        await expectRPCError(.invalidArgument, mentioning: "address") { _ = try await m.addSuppression("not an address") }
    }

    @Test func aMergeKeepsTheMostRestrictiveIntentAndMovesTheLedger() async throws {
        let world = try ConsentWorld()
        let m = world.marketing
        let keep = try await world.person("Kim", email: "kim@example.com")
        let gone = try await world.person("Kim", email: "kim.old@example.com")
        _ = try await m.setConsent(keep, .subscribed, evidence: "form")
        _ = try await m.unsubscribe(gone)
        let _: Crm_Contacts_V1_Person = try await world.contacts.call("MergePeople", Crm_Contacts_V1_MergePeopleRequest.with {
            $0.survivorID = keep
            $0.mergedID = gone
        })
        #expect(try await eventually { try await m.consent(keep).status == .unsubscribed })
        let history = try await m.history(keep).entries
        #expect(history.contains { $0.mergedFromPersonID == gone && $0.newStatus == .unsubscribed })
        await expectRPCError(.notFound, mentioning: "person \(gone) not found") { _ = try await m.consent(gone) }
    }

    @Test func erasureBlanksTheLedgerKeepsTheSuppressionHashAndTheExportHasConsent() async throws {
        let world = try ConsentWorld()
        let m = world.marketing
        let eve = try await world.person("Eve", email: "eve@example.com")
        _ = try await m.setConsent(eve, .subscribed, evidence: "signed form 7")
        _ = try await m.setConsent(eve, .bounced, evidence: "550 no such user")

        let export: Crm_Contacts_V1_PersonDataExport = try await world.contacts.call(
            "ExportPersonData", Crm_Contacts_V1_PersonDataRequest.with { $0.personID = eve })
        let module = try #require(export.modules.first { $0.module == "marketing" })
        let types = Set(module.records.map(\.typeName))
        #expect(types.isSuperset(of: ["crm.marketing.v1.ConsentState", "crm.marketing.v1.ConsentLedgerEntry",
                                      "crm.marketing.v1.Suppression"]), "\(types)")

        let _: Crm_Contacts_V1_ErasePersonResponse = try await world.contacts.call(
            "ErasePerson", Crm_Contacts_V1_ErasePersonRequest.with { $0.id = eve; $0.reason = "GDPR request 1" })
        // The two changes, blanked, and the erasure's own entry.
        #expect(try await eventually {
            try world.database.rows("SELECT count(*) FROM marketing_consent_ledger WHERE person_id = \(eve) AND erased_us > 0") == [["3"]]
        })
        #expect(try world.database.rows("""
            SELECT source FROM marketing_consent_ledger WHERE person_id = \(eve) AND (evidence <> '' OR address <> '' OR source <> '')
            """) == [["erasure"]])
        #expect(try world.database.rows("SELECT count(*) FROM marketing_consent_state WHERE person_id = \(eve)") == [["0"]])
        let kept = try await m.suppressions().suppressions
        #expect(kept.count == 1 && kept[0].address == "" && kept[0].addressSha256.count == 64)
        // The erased address stays blocked: someone new with it cannot be subscribed or sent to.
        let newcomer = try await world.person("Neu", email: "eve@example.com")
        await expectRPCError(.failedPrecondition, mentioning: "the address of person \(newcomer) is suppressed for EMAIL") {
            _ = try await m.setConsent(newcomer, .subscribed, evidence: "form")
        }
        #expect(try await m.checkSending(newcomer).allowed == false)
    }

    @Test func aSalesManagersGDPRExportIncludesMarketingsPart() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "marketing"])
        try await AccessSupport.createUser(crmd, "mia", roles: ["sales_manager"])
        try await AccessSupport.createUser(crmd, "rita", roles: ["read_only"])
        let connection = try crmd.connect()
        let person = try await ContactsClient(connection: connection).createPerson("Ann", "Tester", email: "ann@example.com").id
        _ = try await MarketingClient(connection: connection).setConsent(person, .subscribed, evidence: "form")
        let request = Crm_Contacts_V1_PersonDataRequest.with { $0.personID = person }
        let contacts = ContactsClient(connection: connection)
        let export: Crm_Contacts_V1_PersonDataExport = try await contacts.call(
            "ExportPersonData", request, metadata: AccessSupport.actingAs("mia"))
        #expect(export.modules.first { $0.module == "marketing" }?.records.isEmpty == false)
        await expectRPCError(.permissionDenied, mentioning: "contacts.person.gdpr_export") {
            let _: Crm_Contacts_V1_PersonDataExport = try await contacts.call(
                "ExportPersonData", request, metadata: AccessSupport.actingAs("rita"))
        }
    }

    @Test func aConfirmationFromTheLinkIsAuditedAndPublishedUnderThePersonsOwner() async throws {
        let world = try ConsentWorld()
        let sam: Crm_Contacts_V1_Person = try await world.contacts.call("CreatePerson", Crm_Contacts_V1_CreatePersonRequest.with {
            $0.person.firstName = "Sam"
            $0.person.emails = [.with { $0.address = "sam@example.com" }]
            $0.person.owner = "sam"
        })
        // The projection follows contacts' event; the confirmation names no person lookup.
        #expect(try await eventually { try world.database.rows("SELECT owner FROM marketing_people WHERE person_id = \(sam.id)") == [["sam"]] })
        _ = try await world.marketing.requestSubscription(sam.id)
        _ = try await world.marketing.confirm(try world.latestToken(sam.id))
        let owners = try world.database.rows("""
            SELECT action, owner FROM kernel_audit WHERE entity = 'marketing.consent' AND record_id = '\(sam.id):1' ORDER BY id
            """)
        #expect(owners == [["create", "sam"], ["update", "sam"]])
    }
}
