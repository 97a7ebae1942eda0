import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// "Clicked in the last N days" stays true as time passes: a person whose
/// last click ages out leaves (and enters the segment of its negation) by
/// the RunEngagementWindows job, without a RebuildSegment. A "day" is made
/// 3 s long (engagement_day_ms) so the window passes during the test.
@Suite struct SegmentWindowTests {
    @Test func aClickAgingOutOfTheWindowLeavesTheSegmentWithoutARebuild() async throws {
        let flow = try TrackingFlowTests.Flow(environment: ["CRM_PLUGIN_MARKETING_ENGAGEMENT_DAY_MS": "3000"])
        let m = flow.world.marketing
        let (segment, people) = try await flow.world.people(2, tag: "window")
        let clicker = people[0], other = people[1]
        let clickedLately = MSegmentRule.with {
            $0.condition = .with { $0.field = "engagement.clicked"; $0.op = .isSet; $0.withinDays = 1 }
        }
        let lately = try await m.createSegment("clicked lately", rule: clickedLately)
        let quiet = try await m.createSegment("quiet", rule: Rule.all(Rule.when("tag", .equals, "window"), Rule.not(clickedLately)))
        #expect(try await m.members(lately.id).isEmpty)
        #expect(try await m.members(quiet.id) == [clicker, other])

        let template = try await m.createTemplate("Window", subject: "Window for {{person.first_name}}", html: TrackingFlowTests.linksHTML).id
        let (_, mails) = try await flow.send("Window", segment: segment, template: template, expecting: 2)
        let address = try #require(try await flow.world.contacts.getPerson(clicker).emails.first?.address)
        let mail = try #require(mails.first { $0.rcpt.contains(address) || $0.header("To")?.contains(address) == true })
        let html = try #require(mail.part("text/html"))
        let click = try #require(TrackingFlowTests.tokens(html, "click").first)
        let clicked = Date()
        #expect(try await m.trackClick(click).machine == false)
        // In at once (the click re-checks the person) ...
        #expect(try await m.members(lately.id) == [clicker])
        #expect(try await m.members(quiet.id) == [other])
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(try await m.members(lately.id) == [clicker], "left before the window was over")
        // ... and out once the click is more than a "day" old, by the job alone.
        var left = false
        #expect(try await eventually(timeout: 10) {
            left = try await m.members(lately.id).isEmpty
            return left
        })
        #expect(Date().timeIntervalSince(clicked) >= 3)
        #expect(try await m.members(quiet.id) == [clicker, other])
        #expect(try await m.count(clickedLately) == 0)
        let summaries = try await flow.world.contacts.timeline(person: clicker, pageSize: 500).entries.map(\.summary)
        #expect(summaries.contains("Left segment \"clicked lately\"") && summaries.contains("Entered segment \"quiet\""),
                "\(summaries)")
        // Nothing was rebuilt: the segment's only build is the one at its creation.
        let seg = try await m.getSegment(lately.id)
        #expect(seg.memberCount == 0 && seg.build.state == .built)
        #expect(try flow.world.database.rows("""
            SELECT count(*) FROM kernel_audit WHERE entity = 'marketing.segment' AND record_id = '\(lately.id)' AND action = 'rebuild'
            """) == [["1"]])

        await expectRPCError(.invalidArgument, mentioning: "limit must be 0 to 5000") {
            try await m.call("AdvanceEngagementWindows", Crm_Marketing_V1_AdvanceEngagementWindowsRequest.with { $0.limit = 5001 },
                             as: Crm_Marketing_V1_AdvanceEngagementWindowsResponse.self)
        }
        let step: Crm_Marketing_V1_AdvanceEngagementWindowsResponse = try await m.call(
            "AdvanceEngagementWindows", Crm_Marketing_V1_AdvanceEngagementWindowsRequest())
        #expect(!step.more && step.checkedThroughUnixUs > 0)
    }
}
