import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Permissions, contacts scope on recipients, organization merge fields,
/// and a template deleted after scheduling.
@Suite struct CampaignAccessTests {
    @Test func permissionsAndRecipientsFollowTheCallersScope() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "marketing"])
        let connection = try crmd.connect()
        let admin = MarketingClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        var ids: [Int64] = []
        for (i, owner) in ["alice", "bob", "alice"].enumerated() {
            let p = try await contacts.createPerson("P\(i)", "Scope", email: "p\(i)@example.com", owner: owner)
            _ = try await admin.setConsent(p.id, .subscribed, evidence: "form")
            ids.append(p.id)
        }
        let list = try await admin.createSegment("list", list: true).id
        _ = try await admin.addMembers(list, ids)
        let t = try await admin.createTemplate("t").id
        let c = try await admin.createCampaign(admin.campaign("c", segment: list, template: t))
        _ = try await admin.scheduleCampaign(c.id)
        _ = try await eventually { try await admin.getCampaign(c.id).state == .sent }

        _ = try await connection.call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "campaign_viewer"
            $0.permissions = [.with { $0.permission = "marketing.campaign.read"; $0.scope = .all },
                              .with { $0.permission = "contacts.person.read"; $0.scope = .own }]
        }, as: Crm_Kernel_V1_Role.self)
        try await AccessSupport.createUser(crmd, "alice", roles: ["campaign_viewer"])
        try await AccessSupport.createUser(crmd, "rep", roles: ["sales_rep"])
        try await AccessSupport.createUser(crmd, "mkt", roles: ["marketing"])
        let alice = MarketingClient(connection: connection, metadata: AccessSupport.actingAs("alice"))
        let rep = MarketingClient(connection: connection, metadata: AccessSupport.actingAs("rep"))
        let mkt = MarketingClient(connection: connection, metadata: AccessSupport.actingAs("mkt"))

        #expect(try await alice.getCampaign(c.id).id == c.id)
        #expect(try await alice.recipients(c.id).map(\.personID) == [ids[0], ids[2]])
        #expect(try await mkt.recipients(c.id).map(\.personID) == ids)
        await expectRPCError(.permissionDenied, mentioning: "marketing.campaign.write") {
            try await alice.createCampaign(alice.campaign("x", segment: list, template: t))
        }
        await expectRPCError(.permissionDenied, mentioning: "marketing.campaign.write") { try await alice.cancelCampaign(c.id) }
        await expectRPCError(.permissionDenied, mentioning: "marketing.campaign.read") { try await rep.getCampaign(c.id) }
        await expectRPCError(.permissionDenied, mentioning: "marketing.campaign.read") { try await rep.campaignResults(c.id) }
        await expectRPCError(.permissionDenied, mentioning: "marketing.campaign.run") {
            try await alice.call("AdvanceCampaigns", Crm_Marketing_V1_AdvanceCampaignsRequest(),
                                 as: Crm_Marketing_V1_AdvanceCampaignsResponse.self)
        }
        let made = try await mkt.createCampaign(mkt.campaign("by marketing", segment: list, template: t))
        #expect(made.state == .draft)
    }

    @Test func organizationFieldsRenderAndADeletedTemplateSkipsInsteadOfWedging() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        let acme = try await w.contacts.createOrganization("Acme")
        let withOrg = try await w.contacts.createPerson("Ada", "Org", email: "ada@acme.example", organization: acme.id)
        let without = try await w.contacts.createPerson("Bo", "None", email: "bo@example.com")
        for id in [withOrg.id, without.id] { _ = try await m.setConsent(id, .subscribed, evidence: "form") }
        let list = try await m.createSegment("list", list: true).id
        _ = try await m.addMembers(list, [withOrg.id, without.id])
        let t = try await m.createTemplate("org", subject: "Hi {{person.first_name}}{{#organization}} at {{organization.name}}{{/organization}}").id
        let c = try await m.createCampaign(m.campaign("org", segment: list, template: t))
        _ = try await m.scheduleCampaign(c.id)
        try await w.waitFor(c.id, .sent)
        #expect(try w.outbox(c.id).map(\.subject) == ["Hi Ada at Acme", "Hi Bo"])

        // Deleted between schedule and send time: each recipient is skipped with
        // the reason, the campaign still finishes, other campaigns still send.
        let doomed = try await m.createTemplate("doomed").id
        let late = try await m.createCampaign(m.campaign("late", segment: list, template: doomed, sendAt: nowMicros() + 1_500_000))
        _ = try await m.scheduleCampaign(late.id)
        _ = try await m.deleteTemplate(doomed)
        let other = try await m.createCampaign(m.campaign("other", segment: list, template: t, sendAt: nowMicros() + 1_500_000))
        _ = try await m.scheduleCampaign(other.id)
        try await w.waitFor(late.id, .sent)
        try await w.waitFor(other.id, .sent)
        let skipped = try await m.recipients(late.id)
        #expect(skipped.count == 2 && skipped.allSatisfy { $0.state == .skipped && $0.skippedReason.contains("deleted") },
                "\(skipped.map(\.skippedReason))")
        #expect(try w.outbox(late.id).isEmpty && (try w.outbox(other.id)).count == 2)
        // An update of a SCHEDULED campaign to a deleted template is refused.
        let third = try await m.createCampaign(m.campaign("third", segment: list, template: t, sendAt: nowMicros() + 3_600_000_000))
        _ = try await m.scheduleCampaign(third.id)
        await expectRPCError(.failedPrecondition, mentioning: "template \(doomed) is deleted") {
            try await m.updateCampaign(.with { $0.id = third.id; $0.templateID = doomed }, mask: ["template_id"])
        }
    }
}
