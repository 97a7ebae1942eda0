import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Campaign create, get, update, list, schedule and cancel over the socket,
/// with every bad input and its status.
@Suite struct CampaignTests {
    @Test func createChecksEveryFieldAndIsIdempotent() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        let segment = try await m.createSegment("everyone", rule: Rule.all()).id
        let t1 = try await w.template("one")
        let t2 = try await w.template("two")
        let gone = try await w.template("gone")
        _ = try await m.deleteTemplate(gone)

        func bad(_ code: Crm_Rpc_V1_StatusCode, _ mentioning: String, sourceLocation: SourceLocation = #_sourceLocation,
                 _ change: (inout MCampaign) -> Void) async {
            var c = m.campaign("c", segment: segment, template: t1)
            change(&c)
            await expectRPCError(code, mentioning: mentioning, sourceLocation: sourceLocation) { try await m.createCampaign(c) }
        }
        await bad(.invalidArgument, "campaign.name") { $0.name = "  " }
        await bad(.invalidArgument, "campaign.name") { $0.name = String(repeating: "x", count: 201) }
        await bad(.invalidArgument, "campaign.segment_id") { $0.segmentID = 0 }
        await bad(.invalidArgument, "campaign.segment_id") { $0.segmentID = -3 }
        await bad(.notFound, "campaign.segment_id") { $0.segmentID = 999 }
        await bad(.invalidArgument, "campaign.template_id or campaign.variants") { $0.templateID = 0 }
        await bad(.invalidArgument, "campaign.template_id") { $0.templateID = -1 }
        await bad(.notFound, "campaign.template_id") { $0.templateID = 999 }
        await bad(.failedPrecondition, "campaign.template_id: template \(gone) is deleted") { $0.templateID = gone }
        await bad(.invalidArgument, "campaign.send_at_unix_us") { $0.sendAtUnixUs = -1 }
        await bad(.invalidArgument, "for a campaign with variants") { $0.testSharePercent = 10 }
        await bad(.invalidArgument, "for a campaign with variants") { $0.winnerMetric = .clicks }
        await bad(.invalidArgument, "not both") { $0 = m.abCampaign("ab", segment: segment, templates: [t1, t2]); $0.templateID = t1 }
        await bad(.invalidArgument, "2 to 5 variants") { $0 = m.abCampaign("ab", segment: segment, templates: [t1]) }
        await bad(.invalidArgument, "2 to 5 variants") {
            $0 = m.abCampaign("ab", segment: segment, templates: [t1, t2, t1, t2, t1, t2])
        }
        await bad(.invalidArgument, "campaign.variants[1].label") {
            $0 = m.abCampaign("ab", segment: segment, templates: [t1, t2]); $0.variants[1].label = ""
        }
        await bad(.invalidArgument, "campaign.variants[1].label") {
            $0 = m.abCampaign("ab", segment: segment, templates: [t1, t2]); $0.variants[1].label = String(repeating: "l", count: 51)
        }
        await bad(.invalidArgument, "used twice") {
            $0 = m.abCampaign("ab", segment: segment, templates: [t1, t2]); $0.variants[1].label = "a"
        }
        await bad(.invalidArgument, "campaign.variants[0].template_id") {
            $0 = m.abCampaign("ab", segment: segment, templates: [t1, t2]); $0.variants[0].templateID = 0
        }
        await bad(.notFound, "campaign.variants[1].template_id") { $0 = m.abCampaign("ab", segment: segment, templates: [t1, 999]) }
        await bad(.failedPrecondition, "campaign.variants[1].template_id") {
            $0 = m.abCampaign("ab", segment: segment, templates: [t1, gone])
        }
        for share: Int32 in [0, 51, -1] {
            await bad(.invalidArgument, "campaign.test_share_percent") { $0 = m.abCampaign("ab", segment: segment, templates: [t1, t2], share: share) }
        }
        await bad(.invalidArgument, "campaign.winner_metric") {
            $0 = m.abCampaign("ab", segment: segment, templates: [t1, t2], metric: .unspecified)
        }
        for wait: Int64 in [0, 999_999, 30 * 86_400_000_000 + 1] {
            await bad(.invalidArgument, "campaign.winner_wait_us") { $0 = m.abCampaign("ab", segment: segment, templates: [t1, t2], waitUs: wait) }
        }

        let c = try await m.createCampaign(m.campaign("Spring sale", segment: segment, template: t1), key: "k1")
        #expect(c.state == .draft && c.version == 1 && c.templateID == t1 && c.variants.isEmpty && c.name == "Spring sale")
        #expect(try await m.createCampaign(m.campaign("Spring sale", segment: segment, template: t1), key: "k1") == c)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency") {
            try await m.createCampaign(m.campaign("Other", segment: segment, template: t1), key: "k1")
        }
        #expect(try await m.getCampaign(c.id) == c)
        await expectRPCError(.invalidArgument, mentioning: "id") { try await m.getCampaign(0) }
        await expectRPCError(.notFound, mentioning: "campaign 12345") { try await m.getCampaign(12345) }

        let ab = try await m.createCampaign(m.abCampaign("AB", segment: segment, templates: [t1, t2], share: 30, metric: .clicks))
        #expect(ab.templateID == 0 && ab.variants.map(\.label) == ["A", "B"] && ab.variants.map(\.templateID) == [t1, t2])
        #expect(ab.variants.allSatisfy { $0.id > 0 } && ab.testSharePercent == 30 && ab.winnerMetric == .clicks)
        // An audit entry for the create.
        let audit = try w.database.rows("SELECT action FROM kernel_audit WHERE entity = 'marketing.campaign' AND record_id = '\(c.id)'")
        #expect(audit.map { $0[0] } == ["create"])
    }

    @Test func updateChangesMaskedFieldsOnlyBeforeSending() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        let segment = try await m.createSegment("everyone", rule: Rule.all()).id
        let t1 = try await w.template("one")
        let t2 = try await w.template("two")
        var c = try await m.createCampaign(m.campaign("First", segment: segment, template: t1, sendAt: nowMicros() + 3_600_000_000))

        var change = MCampaign.with { $0.id = c.id; $0.name = "Renamed" }
        c = try await m.updateCampaign(change, mask: ["name"], expectedVersion: 1)
        #expect(c.name == "Renamed" && c.version == 2 && c.templateID == t1)
        // Nothing changes: the same version comes back.
        #expect(try await m.updateCampaign(change, mask: ["name"]).version == 2)
        await expectRPCError(.aborted, mentioning: "version") { try await m.updateCampaign(change, mask: ["name"], expectedVersion: 1) }
        await expectRPCError(.invalidArgument, mentioning: "update_mask") { try await m.updateCampaign(change, mask: ["bogus"]) }
        await expectRPCError(.invalidArgument, mentioning: "ScheduleCampaign") { try await m.updateCampaign(change, mask: ["state"]) }
        await expectRPCError(.invalidArgument, mentioning: "campaign.id") {
            try await m.updateCampaign(.with { $0.name = "x" }, mask: ["name"])
        }
        await expectRPCError(.notFound, mentioning: "campaign.id") {
            try await m.updateCampaign(.with { $0.id = 999; $0.name = "x" }, mask: ["name"])
        }
        change = .with { $0.id = c.id; $0.name = "" }
        await expectRPCError(.invalidArgument, mentioning: "campaign.name") { try await m.updateCampaign(change, mask: ["name"]) }
        // Turning it into an A/B test: variants and their settings; template_id is cleared.
        change = m.abCampaign("", segment: segment, templates: [t2, t1], share: 10)
        change.id = c.id
        c = try await m.updateCampaign(change, mask: ["variants", "test_share_percent", "winner_metric", "winner_wait_us"])
        #expect(c.templateID == 0 && c.variants.map(\.templateID) == [t2, t1] && c.testSharePercent == 10 && c.version == 3)
        // Back to one template: the A/B settings go too.
        c = try await m.updateCampaign(.with { $0.id = c.id; $0.templateID = t2 }, mask: ["template_id"])
        #expect(c.templateID == t2 && c.variants.isEmpty && c.testSharePercent == 0 && c.winnerMetric == .unspecified)
        await expectRPCError(.notFound, mentioning: "campaign.segment_id") {
            try await m.updateCampaign(.with { $0.id = c.id; $0.segmentID = 777 }, mask: ["segment_id"])
        }
        // SCHEDULED still changes; SENT or CANCELLED does not.
        c = try await m.scheduleCampaign(c.id)
        #expect(c.state == .scheduled)
        c = try await m.updateCampaign(.with { $0.id = c.id; $0.name = "Scheduled" }, mask: ["name"])
        #expect(c.state == .scheduled && c.name == "Scheduled")
        c = try await m.cancelCampaign(c.id)
        await expectRPCError(.failedPrecondition, mentioning: "CANCELLED") {
            try await m.updateCampaign(.with { $0.id = c.id; $0.name = "Late" }, mask: ["name"])
        }
    }

    @Test func listPagesNewestFirstAndFiltersByState() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        let segment = try await m.createSegment("everyone", rule: Rule.all()).id
        let t = try await w.template("one")
        var ids: [Int64] = []
        for i in 0..<5 {
            ids.append(try await m.createCampaign(m.campaign("c\(i)", segment: segment, template: t,
                                                             sendAt: nowMicros() + 3_600_000_000)).id)
        }
        _ = try await m.scheduleCampaign(ids[1])
        _ = try await m.scheduleCampaign(ids[3])
        let first = try await m.listCampaigns(pageSize: 2)
        #expect(first.campaigns.map(\.id) == [ids[4], ids[3]] && !first.nextPageToken.isEmpty)
        let second = try await m.listCampaigns(pageSize: 2, token: first.nextPageToken)
        #expect(second.campaigns.map(\.id) == [ids[2], ids[1]])
        let third = try await m.listCampaigns(pageSize: 2, token: second.nextPageToken)
        #expect(third.campaigns.map(\.id) == [ids[0]] && third.nextPageToken.isEmpty)
        #expect(try await m.listCampaigns(state: .scheduled).campaigns.map(\.id) == [ids[3], ids[1]])
        #expect(try await m.listCampaigns(state: .draft).campaigns.count == 3)
        #expect(try await m.listCampaigns(pageSize: 9999).campaigns.count == 5)
        await expectRPCError(.invalidArgument, mentioning: "page_size") { try await m.listCampaigns(pageSize: -1) }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await m.listCampaigns(token: "junk") }
        await expectRPCError(.invalidArgument, mentioning: "state") {
            try await m.listCampaigns(state: Crm_Marketing_V1_CampaignState(rawValue: 42)!)
        }
    }

    @Test func scheduleAndCancelCheckStateTemplatesAndSegment() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        let segment = try await m.createSegment("everyone", rule: Rule.all()).id
        let t = try await w.template("one")
        let later = nowMicros() + 3_600_000_000
        var c = try await m.createCampaign(m.campaign("c", segment: segment, template: t))
        await expectRPCError(.invalidArgument, mentioning: "id") { try await m.scheduleCampaign(0) }
        await expectRPCError(.notFound, mentioning: "campaign 999") { try await m.scheduleCampaign(999) }
        await expectRPCError(.invalidArgument, mentioning: "send_at_unix_us") { try await m.scheduleCampaign(c.id, sendAt: -5) }
        await expectRPCError(.aborted, mentioning: "version") { try await m.scheduleCampaign(c.id, sendAt: later, expectedVersion: 7) }
        c = try await m.scheduleCampaign(c.id, sendAt: later, expectedVersion: 1)
        #expect(c.state == .scheduled && c.sendAtUnixUs == later && c.version == 2)
        // A retry changes nothing; another time reschedules.
        #expect(try await m.scheduleCampaign(c.id, sendAt: later) == c)
        #expect(try await m.scheduleCampaign(c.id).version == 2)
        c = try await m.scheduleCampaign(c.id, sendAt: later + 1)
        #expect(c.sendAtUnixUs == later + 1 && c.version == 3)
        await expectRPCError(.aborted, mentioning: "version") { try await m.cancelCampaign(c.id, expectedVersion: 1) }
        c = try await m.cancelCampaign(c.id)
        #expect(c.state == .cancelled && c.finishedUnixUs > 0)
        #expect(try await m.cancelCampaign(c.id) == c)
        await expectRPCError(.failedPrecondition, mentioning: "CANCELLED") { try await m.scheduleCampaign(c.id) }
        await expectRPCError(.invalidArgument, mentioning: "id") { try await m.cancelCampaign(-1) }
        await expectRPCError(.notFound, mentioning: "campaign 999") { try await m.cancelCampaign(999) }

        // A template deleted after the campaign was made, or a segment, fails the schedule.
        let t2 = try await w.template("two")
        let d = try await m.createCampaign(m.campaign("d", segment: segment, template: t2, sendAt: later))
        _ = try await m.deleteTemplate(t2)
        await expectRPCError(.failedPrecondition, mentioning: "template \(t2) is deleted") { try await m.scheduleCampaign(d.id) }
        let s2 = try await m.createSegment("doomed", list: true).id
        let e = try await m.createCampaign(m.campaign("e", segment: s2, template: t, sendAt: later))
        _ = try await m.call("DeleteSegment", Crm_Marketing_V1_DeleteSegmentRequest.with { $0.id = s2 },
                             as: Crm_Marketing_V1_Segment.self)
        await expectRPCError(.notFound, mentioning: "segment_id") { try await m.scheduleCampaign(e.id) }
        let audit = try w.database.rows("SELECT action FROM kernel_audit WHERE entity = 'marketing.campaign' AND record_id = '\(c.id)' ORDER BY id")
        #expect(audit.map { $0[0] } == ["create", "schedule", "schedule", "cancel"])
    }
}
