import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Sending over the socket: the RunCampaigns job queues outbox messages
/// (delivery is another feature: nothing here waits for mail).
@Suite struct CampaignSendingTests {
    @Test func sendNowQueuesOneMessagePerConsentingMemberAndSkipsTheRest() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        // 0..5 subscribed, 6 unsubscribed, 7 never asked.
        let (segment, ids) = try await w.people(8, tag: "now") { i in i < 6 ? .subscribed : i == 6 ? .unsubscribed : nil }
        let t = try await w.template("hello", subject: "Hi {{person.first_name}}")
        let c = try await m.createCampaign(m.campaign("Now", segment: segment, template: t))
        let scheduled = try await m.scheduleCampaign(c.id)
        #expect(scheduled.state == .scheduled)
        let sent = try await w.waitFor(c.id, .sent)
        #expect(sent.audience == 8 && sent.finishedUnixUs > 0)

        let recipients = try await m.recipients(c.id)
        #expect(recipients.map(\.personID) == ids)
        let variant = try #require(recipients.first?.variantID)
        #expect(variant > 0 && recipients.allSatisfy { $0.variantID == variant && !$0.test })
        let queued = recipients.filter { $0.state == .queued }
        #expect(queued.map(\.personID) == Array(ids.prefix(6)))
        #expect(queued.allSatisfy { $0.outboxID > 0 && $0.skippedReason.isEmpty && $0.queuedUnixUs > 0 })
        #expect(recipients.filter { $0.state == .skipped }.map(\.skippedReason) == ["no_consent", "no_consent"])

        let outbox = try w.outbox(c.id)
        #expect(outbox.map(\.person) == Array(ids.prefix(6)))
        #expect(outbox.map(\.key) == ids.prefix(6).map { "campaign:\(c.id):\($0)" })
        #expect(outbox.allSatisfy { $0.variant == variant && $0.state == 0 })
        #expect(outbox.first?.subject == "Hi P0")
        let rows = try w.database.rows("""
            SELECT tracked, requires_consent, purpose, unsubscribe_url, to_address FROM marketing_outbox WHERE person_id = \(ids[0])
            """)
        #expect(rows.first?[0] == "1" && rows.first?[1] == "1" && rows.first?[2] == "campaign")
        #expect(rows.first?[3].contains("/marketing/unsubscribe") == true && rows.first?[4] == "p0-now@example.com")

        let results = try await m.campaignResults(c.id)
        #expect(results.audience == 8 && results.variants.count == 1 && results.awaitingWinner == 0)
        #expect(results.variants[0].queued == 6 && results.variants[0].skipped == 2 && results.variants[0].audience == 8)
        #expect(results.variants[0].sent == 0 && results.variants[0].openedBp == 0)
        // A SENT campaign is not cancelled, and is not changed.
        await expectRPCError(.failedPrecondition, mentioning: "SENT") { try await m.cancelCampaign(c.id) }
        await expectRPCError(.failedPrecondition, mentioning: "SENT") { try await m.scheduleCampaign(c.id) }
        await expectRPCError(.invalidArgument, mentioning: "campaign_id") { try await m.recipientsPage(0) }
        await expectRPCError(.notFound, mentioning: "campaign_id") { try await m.recipientsPage(999) }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await m.recipientsPage(c.id, token: "x") }
        await expectRPCError(.notFound, mentioning: "campaign_id") { try await m.campaignResults(999) }
        let page = try await m.recipientsPage(c.id, pageSize: 3)
        #expect(page.recipients.map(\.personID) == Array(ids.prefix(3)) && !page.nextPageToken.isEmpty)
        let events = try await campaignEvents(w)
        #expect(events == ["scheduled \(c.id)", "sent \(c.id)"])
    }

    @Test func aScheduledCampaignWaitsForItsTime() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        let (segment, ids) = try await w.people(3, tag: "later")
        let t = try await w.template("hello")
        let at = nowMicros() + 3_000_000
        let c = try await m.createCampaign(m.campaign("Later", segment: segment, template: t, sendAt: at))
        _ = try await m.scheduleCampaign(c.id)
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await m.getCampaign(c.id).state == .scheduled)
        let early = try await m.recipients(c.id)
        #expect(try w.outbox(c.id).isEmpty && early.isEmpty)
        let sent = try await w.waitFor(c.id, .sent)
        #expect(sent.startedUnixUs >= at)
        #expect(try w.outbox(c.id).map(\.person) == ids)
    }

    @Test func cancellingBeforeTheTimeSendsNothing() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        let (segment, _) = try await w.people(2, tag: "cancel")
        let t = try await w.template("hello")
        let c = try await m.createCampaign(m.campaign("Cancelled", segment: segment, template: t, sendAt: nowMicros() + 1_500_000))
        _ = try await m.scheduleCampaign(c.id)
        _ = try await m.cancelCampaign(c.id)
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await m.getCampaign(c.id).state == .cancelled)
        #expect(try w.outbox(c.id).isEmpty)
    }

    @Test func killedMidSendAndRestartedQueuesEachPersonOnce() async throws {
        // Small batches: the kill lands between two of many transactions.
        let env = ["CRM_PLUGIN_MARKETING_CAMPAIGN_BATCH_SIZE": "100"]
        let first = try CampaignWorld(environment: env)
        let (segment, ids) = try await first.people(3000, tag: "big")
        let t = try await first.template("hello")
        let c = try await first.marketing.createCampaign(first.marketing.campaign("Big", segment: segment, template: t))
        _ = try await first.marketing.scheduleCampaign(c.id)
        // Kill -9 once some, not all, are queued.
        var before: Int64 = 0
        let midway = try await eventually(timeout: 60) {
            before = try await first.marketing.campaignResults(c.id).variants.first?.queued ?? 0
            return before > 0
        }
        #expect(midway)
        kill(first.crmd.pid, SIGKILL)
        _ = first.crmd.waitForExit()
        #expect(before < 3000, "the kill came after the whole send")
        let second = try CampaignWorld(dataDir: first.dataDir, environment: env)
        let started = Date()
        try await second.waitFor(c.id, .sent, timeout: 120)
        let took = Date().timeIntervalSince(started)
        let outbox = try second.outbox(c.id)
        #expect(outbox.count == 3000 && Set(outbox.map(\.person)) == Set(ids), "\(outbox.count) rows")
        let recipients = try await second.marketing.recipients(c.id)
        #expect(recipients.count == 3000 && recipients.allSatisfy { $0.state == .queued })
        #expect(Set(recipients.map(\.outboxID)).count == 3000)
        print("campaign kill/restart: at least \(before) queued before the kill, the rest \(3000 - before) in \(took) s after restart")
    }

    @Test func abTestSplitsTheShareWaitsAndSendsTheWinnerToTheRest() async throws {
        let w = try CampaignWorld()
        let m = w.marketing
        let (segment, ids) = try await w.people(100, tag: "ab")
        let ta = try await w.template("a", subject: "A {{person.first_name}}")
        let tb = try await w.template("b", subject: "B {{person.first_name}}")
        let c = try await m.createCampaign(m.abCampaign("AB", segment: segment, templates: [ta, tb], share: 20,
                                                        metric: .opens, waitUs: 2_000_000))
        let (va, vb) = (c.variants[0].id, c.variants[1].id)
        _ = try await m.scheduleCampaign(c.id)
        let testing = try await w.waitFor(c.id, .testing)
        #expect(testing.testEndsUnixUs > testing.startedUnixUs && testing.audience == 100)
        let test = try await m.recipients(c.id)
        #expect(test.count == 100)
        let share = test.filter(\.test)
        #expect(share.count == 20 && share.allSatisfy { $0.state == .queued })
        #expect(share.filter { $0.variantID == va }.count == 10 && share.filter { $0.variantID == vb }.count == 10)
        #expect(test.filter { !$0.test }.allSatisfy { $0.variantID == 0 && $0.state == .pending })
        #expect(try w.outbox(c.id).count == 20)
        let waiting = try await m.campaignResults(c.id)
        #expect(waiting.awaitingWinner == 80 && waiting.variants.map(\.queued) == [10, 10])

        let sent = try await w.waitFor(c.id, .sent)
        // No engagement at all: a tie, and the lowest variant id wins.
        #expect(sent.winnerVariantID == va)
        let all = try await m.recipients(c.id)
        #expect(all.allSatisfy { $0.state == .queued })
        #expect(all.filter { !$0.test }.allSatisfy { $0.variantID == va })
        // Test recipients keep the one message they had.
        let outbox = try w.outbox(c.id)
        #expect(outbox.count == 100 && Set(outbox.map(\.person)) == Set(ids))
        for r in share { #expect(outbox.filter { $0.person == r.personID }.map(\.variant) == [r.variantID]) }
        #expect(outbox.filter { $0.variant == vb }.allSatisfy { $0.subject.hasPrefix("B ") })
        let results = try await m.campaignResults(c.id)
        #expect(results.winnerVariantID == va && results.winnerReason.contains("tie"), "\(results.winnerReason)")
        #expect(results.variants.map(\.audience) == [90, 10] && results.variants.map(\.testAudience) == [10, 10])
        #expect(results.awaitingWinner == 0 && results.variants.map(\.label) == ["A", "B"])
        let events = try await campaignEvents(w)
        #expect(events == ["scheduled \(c.id)", "winner_chosen \(c.id)", "sent \(c.id)"])
    }

    func campaignEvents(_ w: CampaignWorld) async throws -> [String] {
        let request = Crm_Kernel_V1_SubscribeRequest.with {
            $0.topicPatterns = ["marketing.campaign.*"]
            $0.replayOnly = true
        }
        var out: [String] = []
        for try await event in try w.contacts.connection.stream("/crm.kernel.v1.Events/Subscribe", request, as: Crm_Kernel_V1_Event.self) {
            let e = try Crm_Marketing_V1_CampaignEvent(serializedBytes: event.payload)
            out.append("\(event.topic.split(separator: ".").last!) \(e.campaignID)")
        }
        return out
    }
}
