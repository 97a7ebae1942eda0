import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// The links of real messages, end to end: a campaign sent through the
/// loopback SMTP server, its pixel, click redirects and unsubscribe link
/// followed as the web edge would, delivery reports, attribution of a won
/// opportunity, and an A/B winner chosen from real opens.
@Suite struct TrackingFlowTests {
    static let publicURL = "https://mail.crm.example"

    struct Flow {
        let smtp: SMTPTestServer
        let world: CampaignWorld

        /// `windowMs`: opens and clicks this soon after sending are machines (0: none).
        init(plugins: [String] = ["contacts", "marketing"], windowMs: Int = 0, environment: [String: String] = [:]) throws {
            smtp = try SMTPTestServer()
            world = try CampaignWorld(plugins: plugins, environment: smtp.environment([
                "CRM_PLUGIN_MARKETING_PUBLIC_URL": TrackingFlowTests.publicURL,
                "CRM_PLUGIN_MARKETING_MACHINE_WINDOW_MS": String(windowMs),
            ].merging(environment) { _, new in new }))
        }

        /// Sends a campaign of `template` (whose subject names it) to the segment now; the messages once every recipient has one.
        func send(_ name: String, segment: Int64, template: Int64, expecting count: Int) async throws -> (Int64, [SMTPTestServer.Received]) {
            let created = try await world.marketing.createCampaign(world.marketing.campaign(name, segment: segment, template: template))
            _ = try await world.marketing.scheduleCampaign(created.id)
            try await eventually(30, "\(count) messages of \(name)") {
                smtp.received.filter { $0.header("Subject")?.contains(name) == true }.count == count
            }
            return (created.id, smtp.received.filter { $0.header("Subject")?.contains(name) == true })
        }
    }

    /// The tokens of one kind of link in an HTML body, in order.
    static func tokens(_ html: String, _ path: String) -> [String] {
        html.components(separatedBy: "\(publicURL)/marketing/\(path)?t=").dropFirst().map { String($0.prefix { $0 != "\"" && $0 != "'" }) }
    }

    static let linksHTML = """
        <p>Hi {{person.first_name}}</p><a href="https://shop.example/a?x=1&amp;y=2">A</a> <A HREF='http://shop.example/b'>B</A>
        <a href="mailto:sales@shop.example">mail us</a><a href="{{unsubscribe_url}}">Unsubscribe</a></body>
        """

    @Test func opensClicksAndTheUnsubscribeLinkOfARealMessageAreRecordedAsTheyHappen() async throws {
        let flow = try Flow()
        let m = flow.world.marketing
        let (segment, people) = try await flow.world.people(1, tag: "links")
        let person = people[0]
        let template = try await m.createTemplate("Links", subject: "Links for {{person.first_name}}", html: Self.linksHTML).id
        let (campaign, mails) = try await flow.send("Links", segment: segment, template: template, expecting: 1)
        let html = try #require(mails[0].part("text/html"))

        // Two http(s) links rewritten, mailto and the unsubscribe link as written, one pixel.
        let clicks = Self.tokens(html, "click"), opens = Self.tokens(html, "open"), unsubscribes = Self.tokens(html, "unsubscribe")
        #expect(clicks.count == 2 && opens.count == 1 && unsubscribes.count == 1, "\(html)")
        #expect(!html.contains("shop.example/a") && html.contains("mailto:sales@shop.example"))
        #expect(mails[0].header("List-Unsubscribe") == "<\(Self.publicURL)/marketing/unsubscribe?t=\(unsubscribes[0])>")
        #expect(mails[0].header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click")

        // An image proxy's fetch is a machine; a person's click answers the original URL and implies the open.
        let proxied = try await m.trackOpen(opens[0], userAgent: TrackingAgents.imageProxy)
        #expect(proxied.machine && proxied.machineReason.contains("googleimageproxy"))
        let first = try await m.trackClick(clicks[0])
        #expect(first.url == "https://shop.example/a?x=1&y=2" && !first.machine)
        #expect(try await m.trackClick(clicks[1]).url == "http://shop.example/b")
        let scanned = try await m.trackClick(clicks[0], userAgent: TrackingAgents.scanner)
        #expect(scanned.machine && scanned.url == "https://shop.example/a?x=1&y=2")
        await expectRPCError(.invalidArgument, mentioning: "token is required") { _ = try await m.trackClick("") }
        // Any other last character: a different MAC, or the same bytes spelled otherwise (its unused bits).
        for other in ["A", "B", "C", "Q"] where !clicks[0].hasSuffix(other) {
            let forged = String(clicks[0].dropLast()) + other
            await expectRPCError(.notFound, mentioning: "no such tracking token") { _ = try await m.trackClick(forged) }
        }
        await expectRPCError(.notFound, mentioning: "no such tracking token") { _ = try await m.trackOpen(clicks[0]) }

        // Typed step by step: one #expect over the whole chain made the type checker give up on a loaded machine.
        let byValue: (Crm_Marketing_V1_EngagementKind, Crm_Marketing_V1_EngagementKind) -> Bool = { $0.rawValue < $1.rawValue }
        let human: [Crm_Marketing_V1_EngagementKind] = try await m.engagement(person: person).entries.map(\.kind).sorted(by: byValue)
        let humanWanted: [Crm_Marketing_V1_EngagementKind] = [.sent, .opened, .clicked, .clicked]
        #expect(human == humanWanted)
        let all = try await m.engagement(person: person, includeMachine: true).entries
        let machine: [Crm_Marketing_V1_EngagementKind] = all.filter(\.machine).map(\.kind).sorted(by: byValue)
        let machineWanted: [Crm_Marketing_V1_EngagementKind] = [.opened, .clicked]
        #expect(machine == machineWanted)
        let results = try await m.campaignResults(campaign)
        let funnel = try #require(results.variants.first)
        #expect(funnel.sent == 1 && funnel.opened == 1 && funnel.clicked == 1)

        // A segment of those who clicked this campaign holds the person; the event is on their timeline.
        let clicked = MSegmentRule.with { $0.condition = .with { $0.field = "engagement.clicked"; $0.op = .isSet; $0.campaignID = campaign } }
        #expect(try await m.count(clicked) == 1)
        #expect(try await eventually {
            try await flow.world.contacts.timeline(person: person).entries.contains { $0.topic == "marketing.message.clicked" }
        })

        // The unsubscribe link: GET changes nothing, POST unsubscribes once.
        let page = try await m.unsubscribePage(unsubscribes[0])
        #expect(page.personID == person && page.campaignID == campaign && page.status == .subscribed)
        #expect(page.maskedAddress == "p***@example.com")
        #expect(try await m.consent(person).status == .subscribed)
        let done = try await m.unsubscribeByToken(unsubscribes[0])
        #expect(done.status == .unsubscribed && !done.alreadyUnsubscribed)
        #expect(try await m.unsubscribeByToken(unsubscribes[0]).alreadyUnsubscribed)
        #expect(try await m.history(person).entries.first?.source == "one-click unsubscribe")
        #expect(try await m.engagement(person: person, kind: .unsubscribed).entries.map(\.campaignID) == [campaign])

        // Delivery reports by Message-ID, each kind once.
        let messageID = try #require(mails[0].header("Message-ID"))
        #expect(try await m.reportDelivery(messageID, .delivered).recorded)
        #expect(try await m.reportDelivery(messageID, .delivered).recorded == false)
        let bounced = try await m.reportDelivery(messageID, .bounced, detail: "550 5.1.1 mailbox gone", key: "dsn-1")
        #expect(bounced.recorded && bounced.personID == person)
        #expect(try await m.reportDelivery(messageID, .bounced, detail: "550 5.1.1 mailbox gone", key: "dsn-1").recorded == false)
        #expect(try await m.consent(person).status == .bounced)
    }

    @Test func theFirstSecondAfterSendingIsAMachinesWindow() async throws {
        let flow = try Flow(windowMs: 60_000)
        let m = flow.world.marketing
        let (segment, _) = try await flow.world.people(1, tag: "window")
        let template = try await m.createTemplate("Window", subject: "Window {{person.first_name}}", html: Self.linksHTML).id
        let (_, mails) = try await flow.send("Window", segment: segment, template: template, expecting: 1)
        let html = try #require(mails[0].part("text/html"))
        let click = try await m.trackClick(try #require(Self.tokens(html, "click").first))
        #expect(click.machine && click.machineReason == "within 60000 ms of sending")
    }

    @Test func aWonOpportunityIsAttributedToTheFirstAndLastCampaignThatReachedThePerson() async throws {
        let flow = try Flow(plugins: ["contacts", "sales", "marketing"])
        let m = flow.world.marketing
        let (segment, people) = try await flow.world.people(1, tag: "buyers")
        let person = people[0]
        let spring = try await m.createTemplate("Spring", subject: "Spring offer for {{person.first_name}}", html: Self.linksHTML).id
        let summer = try await m.createTemplate("Summer", subject: "Summer offer for {{person.first_name}}", html: Self.linksHTML).id
        let (first, _) = try await flow.send("Spring offer", segment: segment, template: spring, expecting: 1)
        let (last, _) = try await flow.send("Summer offer", segment: segment, template: summer, expecting: 1)
        try await eventually(20, "both sends recorded") { try await m.engagement(person: person, kind: .sent).entries.count == 2 }

        let connection = try flow.world.crmd.connect()
        let opportunity: Crm_Sales_V1_Opportunity = try await connection.call(
            "/crm.sales.v1.Sales/CreateOpportunity", Crm_Sales_V1_CreateOpportunityRequest.with {
                $0.opportunity.name = "Engine order"
                $0.opportunity.personID = person
                $0.opportunity.amount = .with { $0.amountMinor = 250_000; $0.currency = "EUR" }
            }, as: Crm_Sales_V1_Opportunity.self)
        let _: Crm_Sales_V1_Opportunity = try await connection.call(
            "/crm.sales.v1.Sales/WinOpportunity", Crm_Sales_V1_WinOpportunityRequest.with { $0.id = opportunity.id },
            as: Crm_Sales_V1_Opportunity.self)

        var attributions: [Crm_Marketing_V1_Attribution] = []
        try await eventually(20, "the attribution") {
            attributions = try await m.attributions().attributions
            return !attributions.isEmpty
        }
        #expect(attributions.count == 1)
        let a = attributions[0]
        #expect(a.opportunityID == opportunity.id && a.personID == person && a.amountMinor == 250_000 && a.currency == "EUR")
        #expect(a.firstTouchCampaignID == first && a.lastTouchCampaignID == last)
        let conversions = try await m.engagement(person: person, kind: .converted).entries
        #expect(Set(conversions.map { "\($0.campaignID):\($0.detail)" }) == ["\(first):first_touch", "\(last):last_touch"])
        #expect(try await m.attributions(campaign: first).attributions.map(\.opportunityID) == [opportunity.id])
        let lastResults = try await m.campaignResults(last)
        #expect(lastResults.variants.first?.converted == 1)
    }

    @Test func anABTestSendsTheVariantPeopleOpenedMostToTheRestOnly() async throws {
        let flow = try Flow()
        let m = flow.world.marketing
        let (segment, _) = try await flow.world.people(10, tag: "ab")
        let a = try await m.createTemplate("A", subject: "Variant A for {{person.first_name}}", html: Self.linksHTML).id
        let b = try await m.createTemplate("B", subject: "Variant B for {{person.first_name}}", html: Self.linksHTML).id
        let created = try await m.createCampaign(m.abCampaign("AB", segment: segment, templates: [a, b], share: 40,
                                                              metric: .opens, waitUs: 8_000_000))
        _ = try await m.scheduleCampaign(created.id)
        // The test share: 4 people, 2 per variant.
        try await eventually(30, "the test share") { flow.smtp.received.count == 4 }
        let test = flow.smtp.received
        #expect(test.filter { $0.header("Subject")?.hasPrefix("Variant A") == true }.count == 2)
        for mail in test where mail.header("Subject")?.hasPrefix("Variant B") == true {
            let html = try #require(mail.part("text/html"))
            _ = try await m.trackOpen(try #require(Self.tokens(html, "open").first))
        }
        let sent = try await flow.world.waitFor(created.id, .sent)
        let winner = try #require(sent.variants.first { $0.id == sent.winnerVariantID })
        #expect(winner.templateID == b)
        try await eventually(30, "the rest") { flow.smtp.received.count == 10 }
        let rest = flow.smtp.received.dropFirst(4)
        #expect(rest.allSatisfy { $0.header("Subject")?.hasPrefix("Variant B") == true })
        // Nobody got two messages of the campaign.
        let recipients = flow.smtp.received.flatMap(\.rcpt)
        #expect(Set(recipients).count == 10)
    }
}
