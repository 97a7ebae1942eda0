import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SalesTestClient
import Testing

/// Idempotency keys are bound to the request's fingerprint: a retry gets the
/// first result, another request under the same key FAILED_PRECONDITION.
@Suite struct ContactsSalesIdempotencyTests {
    @Test func aKeyReusedForAnotherRequestIsRefusedOnEveryKeyedMethod() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "sales"])
        let connection = try crmd.connect()
        let contacts = ContactsClient(connection: connection)
        let sales = SalesClient(connection: connection)

        let ada = try await contacts.createPerson("Ada", "Lovelace", tags: ["b", "a"], key: "k-1")
        #expect(try await contacts.createPerson("Ada", "Lovelace", tags: ["b", "a"], key: "k-1").id == ada.id, "a retry")
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"k-1\"") {
            try await contacts.createPerson("Grace", "Hopper", key: "k-1")
        }
        // Scope: per method. The same key on another method is another key.
        let acme: COrganization = try await contacts.call("CreateOrganization", Crm_Contacts_V1_CreateOrganizationRequest.with {
            $0.organization.name = "Acme"
            $0.idempotencyKey = "k-1"
        })
        await expectRPCError(.failedPrecondition, mentioning: "different CreateOrganization request") {
            let _: COrganization = try await contacts.call("CreateOrganization", Crm_Contacts_V1_CreateOrganizationRequest.with {
                $0.organization.name = "Acme Ltd"
                $0.idempotencyKey = "k-1"
            })
        }
        #expect(acme.id > 0)

        _ = try await sales.createLead(last: "Hopper", key: "k-2")
        await expectRPCError(.failedPrecondition, mentioning: "k-2") { try await sales.createLead(last: "Turing", key: "k-2") }
        func opportunity(_ amount: Int64) async throws -> SOpportunity {
            try await sales.call("CreateOpportunity", Crm_Sales_V1_CreateOpportunityRequest.with {
                $0.opportunity.name = "Order"
                $0.opportunity.amount = .with { $0.amountMinor = amount; $0.currency = "EUR" }
                $0.idempotencyKey = "k-3"
            })
        }
        #expect(try await opportunity(100).id == opportunity(100).id)
        await expectRPCError(.failedPrecondition, mentioning: "k-3") { try await opportunity(200) }
        func activity(_ subject: String) async throws -> SActivity {
            try await sales.call("CreateActivity", Crm_Sales_V1_CreateActivityRequest.with {
                $0.activity.type = .call
                $0.activity.subject = subject
                $0.activity.personID = ada.id
                $0.idempotencyKey = "k-4"
            })
        }
        _ = try await activity("Intro call")
        await expectRPCError(.failedPrecondition, mentioning: "k-4") { try await activity("Second call") }
        func pipeline(_ name: String) async throws -> SPipeline {
            try await sales.call("CreatePipeline", Crm_Sales_V1_CreatePipelineRequest.with {
                $0.name = name
                $0.stages = [.with { $0.name = "Open"; $0.probability = 10 }]
                $0.idempotencyKey = "k-5"
            })
        }
        _ = try await pipeline("Renewals")
        await expectRPCError(.failedPrecondition, mentioning: "k-5") { try await pipeline("Upsell") }

        let lead = try await sales.createLead(first: "Alan", last: "Turing", company: "Bletchley")
        let converted = try await sales.convert(lead.id, key: "k-6", amount: 500, currency: "GBP")
        #expect(try await sales.convert(lead.id, key: "k-6", amount: 500, currency: "GBP").opportunity.id
            == converted.opportunity.id)
        await expectRPCError(.failedPrecondition, mentioning: "k-6") {
            try await sales.convert(lead.id, key: "k-6", amount: 900, currency: "GBP")
        }
    }

    /// A key recorded before fingerprints existed: migration 9 added the
    /// column to a table that held keys, leaving theirs NULL, and those keys
    /// still answer their retries. (The row is set back to that state rather
    /// than the schema rewound, which every later migration would break.)
    @Test func keysRecordedBeforeFingerprintsStillAnswerRetries() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        var crmd = try CrmdProcess(plugins: ["contacts"], dataDir: dataDir)
        let ada = try await ContactsClient(connection: try crmd.connect()).createPerson("Ada", "Lovelace", key: "old-key")
        #expect(try crmd.stop() == 0)
        try DatabaseFile(dataDir: dataDir).execute("UPDATE contacts_idempotency SET fingerprint = NULL")
        crmd = try CrmdProcess(plugins: ["contacts"], dataDir: dataDir)
        let contacts = ContactsClient(connection: try crmd.connect())
        #expect(try await contacts.createPerson("Ada", "Lovelace", key: "old-key").id == ada.id)
        let fingerprints = try DatabaseFile(dataDir: dataDir).rows("SELECT key, fingerprint IS NULL FROM contacts_idempotency")
        #expect(fingerprints == [["old-key", "1"]], "an old key has no fingerprint to compare")
        let grace = try await contacts.createPerson("Grace", "Hopper", key: "new-key")
        await expectRPCError(.failedPrecondition, mentioning: "new-key") { try await contacts.createPerson("Alan", "Turing", key: "new-key") }
        #expect(try await contacts.createPerson("Grace", "Hopper", key: "new-key").id == grace.id)
    }
}
